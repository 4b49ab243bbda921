import type { FastifyBaseLogger } from 'fastify';
import { EventMaintenance, MAINTENANCE_LOCK, type MaintenanceReport } from '../calls/event-maintenance';
import { EventPartitionRepository } from '../db/event-partitions.repository';
import type { Config } from '../config';
import { withSessionLock } from '../db/advisory-lock';
import type { Database } from '../db/database';
import type { Metrics } from './metrics';
import { OUTAGE_LOG_MS, throttledLog } from './throttled-log';

/**
 * Partition upkeep and retention, wired and started (docs/operations.md, Retention): over the query pool,
 * so ingest keeps its own connections; one replica at a time holds its session lock, the others skip.
 */
export function startMaintenance(config: Config, db: Pick<Database, 'dataSource' | 'url'>, log: FastifyBaseLogger, metrics: Metrics): EventMaintenance {
  const m = metrics.maintenance();
  const failed = throttledLog((obj, msg) => log.warn(obj, msg), OUTAGE_LOG_MS);
  const report = (r: MaintenanceReport) => {
    m.runs.inc({ outcome: r.outcome });
    if (r.outcome === 'skipped') return;
    if (r.error !== undefined) failed({ err: r.error, failedSteps: r.errors }, 'partition upkeep or retention: a step failed (the others ran); retrying at the next run');
    m.created.inc(r.created.length);
    m.dropped.inc(r.dropped.length);
    m.callsDeleted.inc(r.callsDeleted);
    m.keptLate.inc(r.keptLate ?? 0);
    if (r.error === undefined || (r.postponedDrops ?? []).length > 0) m.postponed.set((r.postponedDrops ?? []).length);
    if (r.partitions > 0) m.partitions.set(r.partitions);
    if (r.oldestEventAt !== null || r.error === undefined) m.oldestEvent.set(r.oldestEventAt ?? 0);
    for (const s of r.skippedMoves ?? []) {
      log.warn({ interval: new Date(s.from * 1000).toISOString(), rows: s.rows }, 'the default partition holds too many rows of this interval to move them while ingest runs; they stay there (docs/operations.md, Retention)');
    }
    for (const d of r.postponedDrops ?? []) {
      log.warn({ partition: d.name, keep: d.keep }, 'retention: this partition holds more events stored after the oldest kept one than a drop moves; it is dropped once they are older than every event kept (docs/operations.md, Retention)');
    }
    if (r.created.length + r.dropped.length + r.strayDeleted + r.callsDeleted > 0) {
      log.info({ created: r.created, dropped: r.dropped, keptLate: r.keptLate, strayDeleted: r.strayDeleted, callsDeleted: r.callsDeleted, partitions: r.partitions }, 'event partitions maintained');
    }
  };
  const maintenance = new EventMaintenance({
    partitions: new EventPartitionRepository(db.dataSource),
    interval: config.eventPartition,
    ahead: config.eventPartitionsAhead,
    retentionDays: config.retentionDays,
    callRetentionDays: config.callRetentionDays,
    intervalMs: config.maintenanceIntervalMs,
    exclusive: (work) => withSessionLock(db.url, MAINTENANCE_LOCK, work),
    onReport: report,
  });
  maintenance.start();
  return maintenance;
}
