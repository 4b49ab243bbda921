import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config';
import { withSessionLock } from '../db/advisory-lock';
import type { Database } from '../db/database';
import { createBackfill } from '../records/backfill.assembly';
import { RECONCILE_LOCK, ReconcileScheduler, type ReconcileReport } from '../records/reconcile.scheduler';
import type { Metrics } from './metrics';

/**
 * The reconcile job, wired and started when `RECONCILE_INTERVAL_MIN` is set (docs/reliability.md,
 * "Reconcile"): its writes go through ingest's repository over the query pool, so ingest keeps its
 * own connections (docs/design.md, principle 10); one replica at a time holds its session lock.
 */
export function startReconcile(config: Config, db: Pick<Database, 'dataSource' | 'url'>, log: FastifyBaseLogger, metrics: Metrics): ReconcileScheduler | null {
  if (config.reconcileIntervalMin === null) return null;
  const backfill = createBackfill(config, db.dataSource, {
    onRetry: (err, attempt, delayMs) => log.warn({ attempt, delayMs, reason: err.message }, 'records API: retrying'),
  });
  const m = metrics.reconcile(backfill.apps);
  const report = (r: ReconcileReport) => {
    m.runs.inc({ outcome: r.outcome });
    for (const p of r.pulls) {
      m.records.inc({ app: p.sdkAppId }, p.recordsSeen);
      m.callsFound.inc({ app: p.sdkAppId }, p.callsNew);
    }
    for (const e of r.errors) m.errors.inc({ app: e.sdkAppId });
    if (r.outcome === 'ok') m.lastSuccess.set(Date.now() / 1000);
    const pulls = r.pulls.map((p) => ({ app: p.sdkAppId, since: p.window.since, until: p.window.until, records: p.recordsSeen, callsFound: p.callsNew, callsKnown: p.callsKnown, refused: p.recordsRefused }));
    if (r.errors.length > 0) log.error({ outcome: r.outcome, pulls, errors: r.errors }, 'reconcile run failed');
    else log.info({ outcome: r.outcome, pulls }, 'reconcile run');
  };
  const scheduler = new ReconcileScheduler({
    backfill,
    intervalMs: config.reconcileIntervalMin * 60_000,
    lookbackSeconds: config.reconcileLookbackMin * 60,
    exclusive: (work) => withSessionLock(db.url, RECONCILE_LOCK, work),
    onReport: report,
    onRefused: (message) => log.warn({ reason: message }, 'reconcile: record refused'),
  });
  scheduler.start();
  return scheduler;
}
