import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config';
import type { Database } from '../db/database';
import { eventWindow } from '../domain/partition-ranges';
import { BatchWriter } from '../ingest/batch-writer';
import { EventSpool } from '../ingest/event-spool';
import type { FoldCacheSize } from '../ingest/fold-cache';
import { GUARD_FAILED, ingestRepositoryOn, storedEventBody } from '../ingest/ingest.repository';
import { IngestThread } from '../ingest/ingest-thread';
import { poolStats, type PoolStats } from '../db/pool-stats';
import { IngestService } from '../ingest/ingest.service';
import { QuarantineRepository } from '../quarantine/quarantine.repository';
import { QuarantineService } from '../quarantine/quarantine.service';
import type { Metrics } from './metrics';
import { OUTAGE_LOG_MS, throttledLog } from './throttled-log';

/** Seconds a `Sign`ed callback's RequestTime may differ from now (docs/trtc-callbacks.md, section 4). */
const SIGN_WINDOW_SECONDS = 300;
/** How often a non-empty spool tries the database again. */
const SPOOL_RETRY_MS = 1000;
const MIB = 1024 * 1024;

/** The write side, wired: ingest pool → writer (with the outage spool) → service (with the quarantine). */
export interface Ingest {
  readonly service: IngestService;
  readonly writer: BatchWriter;
  readonly spool: EventSpool | null;
  readonly quarantine: QuarantineService;
  /** The connections the batches are written on (the ingest thread's pool, or the ingest DataSource's), for metrics. */
  poolStats(): PoolStats;
  /** What the writer's fold cache of large calls holds (docs/architecture.md, "Large calls"), for metrics. */
  foldCacheSize(): FoldCacheSize;
  /** True when batches are written on the ingest thread (`INGEST_THREAD`). */
  readonly threaded: boolean;
  /** Stops taking callbacks, settles those waiting, stops replaying, flushes quarantine counts. */
  close(): Promise<void>;
}

/**
 * `db.url` given and `INGEST_THREAD` on: batches are written on the ingest thread (src/ingest/ingest-thread.ts);
 * otherwise on `db.ingestDataSource`, here (the standby, which has no database yet, and `INGEST_THREAD=off`).
 */
export async function createIngest(config: Config, db: Pick<Database, 'ingestDataSource'> & Partial<Pick<Database, 'url'>>, log: FastifyBaseLogger, metrics: Metrics): Promise<Ingest> {
  const batchFailed = throttledLog((obj, msg) => log.error(obj, msg), OUTAGE_LOG_MS);
  const replayFailed = throttledLog((obj, msg) => log.warn(obj, msg), OUTAGE_LOG_MS);
  const upkeepFailed = throttledLog((obj, msg) => log.warn(obj, msg), OUTAGE_LOG_MS);
  const spool = config.spool
    ? await EventSpool.open({
        dir: config.spoolDir,
        maxBytes: config.spoolMaxMb * MIB,
        retryMs: SPOOL_RETRY_MS,
        onReplayError: (err) => replayFailed({ err: errorSummary(err) }, 'spool replay waits for the database'),
        onCorrupt: (path, bytes) =>
          log.error({ path, unreadableBytes: bytes }, 'spool segment damaged before its end: its intact records are replayed and the file is kept aside; callbacks after the damage may need recovering by hand (docs/reliability.md)'),
        onReplayed: (n) => {
          metrics.spoolReplayed.inc(n);
          if (n > 0) log.info({ records: n }, 'spooled callbacks stored');
        },
      })
    : null;
  const thread =
    config.ingestThread && db.url
      ? await new IngestThread({ url: db.url, poolSize: config.dbIngestPoolSize, callMaxEvents: config.callMaxEvents, eventPartition: config.eventPartition }, (message, err) =>
          upkeepFailed({ err: errorSummary(err) }, message),
        ).prepare()
      : null;
  const store = thread ?? ingestRepositoryOn(db.ingestDataSource, config.callMaxEvents, config.eventPartition, (err) => upkeepFailed({ err: errorSummary(err) }, GUARD_FAILED));
  const writer = new BatchWriter(store, {
    maxBatch: config.ingestBatchMax,
    timeoutMs: config.ingestTimeoutMs,
    maxPending: config.ingestMaxPending,
    spool,
    window: () => eventWindow(config.retentionDays, Date.now() / 1000),
    onError: (err, size) => batchFailed({ err: errorSummary(err), size }, 'ingest batch failed'),
    onBatch: (size, ms) => {
      metrics.batchSize.observe(size);
      metrics.batchSeconds.observe(ms / 1000);
      if (spool) spool.replaySoon(service); // the database answers again: empty the spool now
    },
  });
  const quarantine = new QuarantineService(new QuarantineRepository(db.ingestDataSource), {
    maxBytes: config.quarantineMaxMb * MIB,
    ratePerMinute: config.quarantineRatePerMin,
    retentionDays: config.quarantineRetentionDays,
    onKeep: (kept) => metrics.quarantined.inc({ kept }),
  });
  const service = new IngestService(
    { sdkAppIds: config.sdkAppIds, secret: config.callbackSecret, signToken: config.callbackSignToken, signWindowSeconds: SIGN_WINDOW_SECONDS },
    writer,
    quarantine,
    undefined,
    (sdkAppId, dedupeKey, eventTime) => storedEventBody(db.ingestDataSource, sdkAppId, dedupeKey, eventTime),
  );
  quarantine.start(undefined, undefined, (err) => upkeepFailed({ err: errorSummary(err) }, 'quarantine upkeep failed'));
  spool?.start(service);
  if (spool) metrics.spool(() => spool.stats());
  return {
    service,
    writer,
    spool,
    quarantine,
    poolStats: () => thread?.poolStats() ?? poolStats(db.ingestDataSource),
    foldCacheSize: () => store.foldCacheSize(),
    threaded: thread !== null,
    async close() {
      await writer.close();
      await thread?.close();
      await spool?.close();
      await quarantine.stop();
    },
  };
}

/** One line about a database error: its message and code, not a stack per failed batch. */
const errorSummary = (err: unknown) => ({ message: (err as Error)?.message ?? String(err), code: (err as { code?: unknown })?.code });
