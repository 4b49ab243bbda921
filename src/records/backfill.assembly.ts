import type { DataSource } from 'typeorm';
import { eventWindow } from '../domain/partition-ranges';
import type { Config } from '../config';
import { EventPartitionRepository, PartitionGuard } from '../db/event-partitions.repository';
import { BatchWriter } from '../ingest/batch-writer';
import { IngestRepository } from '../ingest/ingest.repository';
import { BackfillService } from './backfill.service';
import { RateLimiter } from './rate-limiter';
import type { RecordsApiError } from './records-error';
import { RecordsClient, type RecordsClientOptions } from './records.client';
import { RecordsRepository } from './records.repository';

/** Tencent's limit for the records API across all of a process's apps, per second (pages 60136, 68931). */
const GLOBAL_PER_SECOND = 200;

/**
 * The backfill, wired: a records client per app of `TRTC_APPS` (each within its own rate, all within
 * 200 requests/s), and ingest's repository over `dataSource` behind a writer of its own, so records
 * are stored through the same idempotent path as callbacks.
 */
export function createBackfill(
  config: Pick<Config, 'trtcApps' | 'trtcApiBase' | 'callMaxEvents' | 'retentionDays' | 'eventPartition'>,
  dataSource: DataSource,
  options: Partial<Omit<RecordsClientOptions, 'apiBase' | 'global'>> & { onRetry?: (err: RecordsApiError, attempt: number, delayMs: number) => void } = {},
): BackfillService {
  const global = new RateLimiter(GLOBAL_PER_SECOND);
  const clients = new Map(config.trtcApps.map((app) => [app.sdkAppId, new RecordsClient(app, { ...options, apiBase: config.trtcApiBase, global })]));
  // Only writeIsolated is used: one page per transaction, no queue, no spool (a failed page fails the pull,
  // which is retried whole); a record of a call past CALL_MAX_EVENTS is refused like a callback would be.
  const guard = new PartitionGuard(new EventPartitionRepository(dataSource), config.eventPartition);
  const writer = new BatchWriter(new IngestRepository(dataSource, config.callMaxEvents, guard), {
    maxBatch: 1,
    timeoutMs: 1,
    maxPending: 1,
    spool: null,
    window: () => eventWindow(config.retentionDays, Date.now() / 1000),
  });
  return new BackfillService({ clients, writer, repository: new RecordsRepository(dataSource) });
}
