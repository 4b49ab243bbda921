import { eventWindow } from '../domain/partition-ranges';
import type { Config } from '../config';
import type { Database } from '../db/database';
import { BatchWriter } from '../ingest/batch-writer';
import { BULK_GUARD } from '../db/event-partitions.repository';
import { ingestRepositoryOn } from '../ingest/ingest.repository';
import { IngestService } from '../ingest/ingest.service';

/** The ingest path of the operators' tools: the server's writer and checks, without spool or quarantine. */
export interface ToolIngest {
  readonly service: IngestService;
  /** Settles the callbacks still waiting. */
  close(): Promise<void>;
}

/** A commit may take this long before a tool gives up on a callback (no spool behind it). */
const TOOL_TIMEOUT_MS = 60_000;

/**
 * Ingest for `import` and `quarantine replay`: SDKAPPIDS and the body checks of now, the same batch
 * writer and dedupe as `POST /callback`. The URL's `token` and `Sign` are not checked: a file or the
 * quarantine is the operator's, not the network's (and a Sign's RequestTime would be stale). A
 * refusal is reported to the tool, not kept in the quarantine.
 */
export function toolIngest(config: Pick<Config, 'sdkAppIds' | 'ingestBatchMax' | 'callMaxEvents' | 'retentionDays' | 'eventPartition'>, db: Pick<Database, 'ingestDataSource'>): ToolIngest {
  const writer = new BatchWriter(ingestRepositoryOn(db.ingestDataSource, config.callMaxEvents, config.eventPartition, undefined, BULK_GUARD), {
    maxBatch: config.ingestBatchMax,
    timeoutMs: TOOL_TIMEOUT_MS,
    maxPending: 100_000,
    spool: null,
    window: () => eventWindow(config.retentionDays, Date.now() / 1000),
  });
  const service = new IngestService(
    { sdkAppIds: config.sdkAppIds, secret: null, signToken: null, signWindowSeconds: 0 },
    writer,
    { keep: async () => 'counted' },
  );
  return { service, close: () => writer.close() };
}
