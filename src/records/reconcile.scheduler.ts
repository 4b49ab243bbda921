import { PeriodicJob } from '../domain/periodic-job';
import type { BackfillService, PullSummary } from './backfill.service';

/** Identifies the reconcile job's session lock among calltrail's advisory locks. */
export const RECONCILE_LOCK = 0x7265636f; // "reco"

/** What one run did. `skipped`: another replica held the lock; `stopped`: shutdown cut it short. */
export interface ReconcileReport {
  readonly outcome: 'ok' | 'error' | 'skipped' | 'stopped';
  readonly pulls: readonly PullSummary[];
  readonly errors: readonly { readonly sdkAppId: string; readonly message: string }[];
}

type Exclusive = <T>(work: () => Promise<T>) => Promise<{ acquired: true; value: T } | { acquired: false }>;

export interface ReconcileOptions {
  readonly backfill: Pick<BackfillService, 'apps' | 'pull' | 'clampWindow'>;
  /** Time between the end of a run and the start of the next. */
  readonly intervalMs: number;
  /** How far back each run looks, by call start time; the 7 days Tencent keeps bound it. */
  readonly lookbackSeconds: number;
  /** Runs the work only where no other replica runs it at the same time (a PostgreSQL session lock). */
  readonly exclusive: Exclusive;
  /** Delay of the first run after start (default: the interval, at most 5 minutes: a restart heals its own gap soon). */
  readonly firstRunMs?: number;
  readonly nowSeconds?: () => number;
  readonly onReport?: (report: ReconcileReport) => void;
  readonly onRefused?: (message: string) => void;
}

/**
 * Reconcile (docs/reliability.md, "Reconcile"): every interval, pulls the recent records of every app
 * of `TRTC_APPS` through the backfill, in one replica at a time, so a call whose callbacks never
 * reached calltrail is still stored. Runs never overlap; `stop` aborts a run in flight and waits for it.
 */
export class ReconcileScheduler {
  private readonly abort = new AbortController();
  private readonly job: PeriodicJob<ReconcileReport>;

  constructor(private readonly options: ReconcileOptions) {
    this.job = new PeriodicJob(() => this.runOnce(), options.intervalMs);
  }

  start(): void {
    this.job.start(this.options.firstRunMs ?? Math.min(this.options.intervalMs, 5 * 60_000));
  }

  /** Runs now, after the run in flight if any; never rejects (a failure is a report). */
  runNow(): Promise<ReconcileReport> {
    return this.job.runNow();
  }

  /** Aborts the run in flight (its pulls stop at once) and waits for it; no run starts after. */
  async stop(): Promise<void> {
    this.abort.abort(new Error('reconcile stopped'));
    await this.job.stop();
  }

  private async runOnce(): Promise<ReconcileReport> {
    let report: ReconcileReport;
    try {
      const locked = this.abort.signal.aborted ? null : await this.options.exclusive(() => this.pullAll());
      report = locked === null ? stopped : locked.acquired ? locked.value : { outcome: 'skipped', pulls: [], errors: [] };
    } catch (err) {
      report = this.abort.signal.aborted ? stopped : { outcome: 'error', pulls: [], errors: [{ sdkAppId: '*', message: (err as Error).message }] };
    }
    this.options.onReport?.(report);
    return report;
  }

  private async pullAll(): Promise<ReconcileReport> {
    const now = this.options.nowSeconds?.() ?? Math.floor(Date.now() / 1000);
    const pulls: PullSummary[] = [];
    const errors: { sdkAppId: string; message: string }[] = [];
    for (const sdkAppId of this.options.backfill.apps) {
      const { window } = this.options.backfill.clampWindow(now - this.options.lookbackSeconds, now);
      try {
        pulls.push(await this.options.backfill.pull(sdkAppId, window, { signal: this.abort.signal, onRefused: this.options.onRefused }));
      } catch (err) {
        if (this.abort.signal.aborted) return { ...stopped, pulls, errors };
        errors.push({ sdkAppId, message: (err as Error).message }); // one app's failure does not stop the others
      }
    }
    return { outcome: errors.length > 0 ? 'error' : 'ok', pulls, errors };
  }
}

const stopped: ReconcileReport = { outcome: 'stopped', pulls: [], errors: [] };
