import { CreateCallTables1795648500000 } from './1795648500000-CreateCallTables';
import { CreateApiKeys1795649600000 } from './1795649600000-CreateApiKeys';
import { BoundQuarantine1795700000000 } from './1795700000000-BoundQuarantine';
import { CreateCallStatsRollup1795706400000 } from './1795706400000-CreateCallStatsRollup';
import { AddQuarantineCredentials1795760000000 } from './1795760000000-AddQuarantineCredentials';
import { CreateBiViews1795780000000 } from './1795780000000-CreateBiViews';
import { PartitionCallEvents1795800000000 } from './1795800000000-PartitionCallEvents';
import { AddCallFirstEventAt1795810000000 } from './1795810000000-AddCallFirstEventAt';
import { CreateEventRetentionFloor1795820000000 } from './1795820000000-CreateEventRetentionFloor';

/** Every migration, oldest first. Listed explicitly so the same list runs from TypeScript and compiled JS. */
export const MIGRATIONS = [CreateCallTables1795648500000, CreateApiKeys1795649600000, BoundQuarantine1795700000000, CreateCallStatsRollup1795706400000, AddQuarantineCredentials1795760000000, CreateBiViews1795780000000, PartitionCallEvents1795800000000, AddCallFirstEventAt1795810000000, CreateEventRetentionFloor1795820000000];
