import { MAX_AHEAD_SECONDS, MAX_KEEP_ROWS, MAX_MOVE_ROWS, type EventPartitionRepository } from '../db/event-partitions.repository';
import { PeriodicJob } from '../domain/periodic-job';
import { eventHorizon, nextIntervalStart, rangesToCreate, type PartitionInterval } from '../domain/partition-ranges';

/** The lowest of some positions (decimal texts), ignoring nulls; null when there is none. */
function lowest(positions: readonly (string | null)[]): string | null {
  let min: bigint | null = null;
  for (const p of positions) if (p !== null && (min === null || BigInt(p) < min)) min = BigInt(p);
  return min === null ? null : min.toString();
}

/** Identifies the maintenance job's session lock among calltrail's advisory locks. */
export const MAINTENANCE_LOCK = 0x6d61696e; // "main"

const DAY = 86_400;

/**
 * A partition is dropped one day after all of its times passed the retention horizon: a call whose
 * events straddle a partition boundary keeps them all while its callbacks can still be accepted.
 */
export const DROP_GRACE_SECONDS = DAY;

/** Plans of retention made at most per run while the partitions keep changing under them. */
const PLAN_TRIES = 3;

/** Rows deleted per statement by retention (stray rows of the default partition, calls). */
const DELETE_BATCH = 1000;

/** What one run did. `skipped`: another replica held the lock. */
export interface MaintenanceReport {
  readonly outcome: 'ok' | 'skipped' | 'error';
  readonly created: readonly { readonly name: string; readonly moved: number }[];
  readonly dropped: readonly string[];
  /** Events of dropped partitions kept (moved to the default partition): stored after the oldest event kept. */
  readonly keptLate?: number;
  /** Partitions past the horizon left for a later run: more of their events were stored after the oldest kept one than a drop moves. */
  readonly postponedDrops?: readonly { readonly name: string; readonly keep: number }[];
  readonly strayDeleted: number;
  readonly callsDeleted: number;
  /** Partitions of `call_events` after the run, the default one included. */
  readonly partitions: number;
  /** Oldest event time kept, Unix seconds (null: no event). */
  readonly oldestEventAt: number | null;
  /** Intervals whose rows wait in the default partition but are too many to move while ingest runs (over `maxMove`). */
  readonly skippedMoves?: readonly { readonly from: number; readonly rows: number }[];
  /** The first failure of the run, and how many steps failed; the other steps ran. */
  readonly error?: unknown;
  readonly errors?: number;
}

type Exclusive = <T>(work: () => Promise<T>) => Promise<{ acquired: true; value: T } | { acquired: false }>;

export interface EventMaintenanceOptions {
  readonly partitions: EventPartitionRepository;
  /** `EVENT_PARTITION`. */
  readonly interval: PartitionInterval;
  /** `EVENT_PARTITIONS_AHEAD`: intervals after the current one that get their partition in advance. */
  readonly ahead: number;
  /** `RETENTION_DAYS`: raw events older than this go, a whole partition at a time; null keeps them. */
  readonly retentionDays: number | null;
  /** `CALL_RETENTION_DAYS`: calls that started longer ago go, with their participants; null keeps them. */
  readonly callRetentionDays: number | null;
  /** `MAINTENANCE_INTERVAL_MS`: time between the end of a run and the start of the next. */
  readonly intervalMs: number;
  /** Runs the work where no other replica runs it at the same time (a PostgreSQL session lock). */
  readonly exclusive: Exclusive;
  readonly nowSeconds?: () => number;
  readonly onReport?: (report: MaintenanceReport) => void;
  /** Most rows moved out of the default partition into a new one by a run (default 100,000): the move holds ingest. */
  readonly maxMove?: number;
  /** Most late events a drop keeps, moving them to the default partition (default 10,000); over it the drop waits. */
  readonly maxKeep?: number;
}


/**
 * Keeps `call_events` partitioned and trimmed (docs/architecture.md, Event partitions and retention):
 * at start and every interval, in one replica at a time, creates the partitions of the current and
 * next intervals (and of any interval whose rows wait in the default partition), drops partitions
 * past `RETENTION_DAYS` (keeping every event stored after the oldest one kept: {@link planRetention}),
 * and deletes calls past `CALL_RETENTION_DAYS` in small batches. Runs never overlap; a failed step is
 * tried again at the next run.
 */
export class EventMaintenance {
  private readonly job: PeriodicJob<MaintenanceReport>;
  private readonly maxMove: number;
  private readonly maxKeep: number;

  constructor(private readonly options: EventMaintenanceOptions) {
    this.maxMove = options.maxMove ?? MAX_MOVE_ROWS;
    this.maxKeep = options.maxKeep ?? MAX_KEEP_ROWS;
    this.job = new PeriodicJob(() => this.runOnce(), options.intervalMs);
  }

  /** Runs now (partitions for the current interval must exist before it fills the default one), then every interval. */
  start(): void {
    this.job.start(0);
  }

  /** Runs now, after the run in flight if any; never rejects (a failure is a report). */
  runNow(): Promise<MaintenanceReport> {
    return this.job.runNow();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /**
   * Which partitions past the horizon go, and the position above which their events stay
   * (docs/architecture.md, Event partitions and retention). What is kept is every event after a position:
   * the lowest position among the events kept (whole partitions not past the horizon, rows of the default
   * partition not past it, and whatever is stored after this plan: the sequence's head) bounds what may be
   * deleted; events of a dropped partition above it (late callbacks) are moved and kept. A partition with
   * more of them than a drop moves stays whole, and its events count as kept too (which may keep more of
   * the others: planned again until nothing changes; only counts are read). Null when the partitions
   * changed meanwhile (a creation on ingest's path may move rows out of the default partition after the
   * list was read and before the default partition was): the plan is made again.
   */
  private async planRetention(dropBefore: number): Promise<{ drops: string[]; postponed: { name: string; keep: number }[]; keepAbove: string } | null> {
    const repo = this.options.partitions;
    const listed = await repo.list();
    const partitions = listed.filter((p): p is typeof p & { range: NonNullable<typeof p.range> } => p.range !== null);
    const past = partitions.filter((p) => p.range.to <= dropBefore).sort((a, b) => a.range.from - b.range.from);
    // The sequence's head too: an event stored after this plan, wherever its time puts it, stays.
    const head = await repo.positionHead();
    const kept = partitions.filter((p) => p.range.to > dropBefore).map((p) => repo.minPosition(p.name));
    let keepAbove = lowest([...(await Promise.all(kept)), await repo.defaultMinPosition(dropBefore), head]) ?? head;
    const postponed = new Map<string, number>();
    for (let changed = true; changed; ) {
      changed = false;
      for (const p of past) {
        if (postponed.has(p.name)) continue;
        const keep = await repo.countAbove(p.name, keepAbove, this.maxKeep);
        if (keep <= this.maxKeep) continue;
        postponed.set(p.name, keep);
        keepAbove = lowest([keepAbove, await repo.minPosition(p.name)]) ?? keepAbove;
        changed = true;
      }
    }
    const names = (list: readonly { name: string }[]) => list.map((p) => p.name).join(',');
    if (names(await repo.list()) !== names(listed)) return null;
    return { drops: past.filter((p) => !postponed.has(p.name)).map((p) => p.name), postponed: [...postponed].map(([name, keep]) => ({ name, keep })), keepAbove };
  }

  private async runOnce(): Promise<MaintenanceReport> {
    const empty = { created: [], dropped: [], strayDeleted: 0, callsDeleted: 0, partitions: 0, oldestEventAt: null };
    try {
      const result = await this.options.exclusive(() => this.maintain());
      const report: MaintenanceReport = result.acquired ? result.value : { outcome: 'skipped', ...empty };
      this.options.onReport?.(report);
      return report;
    } catch (error) {
      const report: MaintenanceReport = { outcome: 'error', ...empty, error };
      this.options.onReport?.(report);
      return report;
    }
  }

  private async maintain(): Promise<MaintenanceReport> {
    const { partitions: repo, interval, ahead, retentionDays, callRetentionDays } = this.options;
    const now = (this.options.nowSeconds ?? (() => Date.now() / 1000))();
    const horizon = eventHorizon(retentionDays, now);
    const dropBefore = horizon === null ? null : horizon - DROP_GRACE_SECONDS;
    // Each step runs whatever the others did: a partition that could not be locked in time does not stop retention.
    const errors: unknown[] = [];
    const step = async <T>(work: () => Promise<T>, fallback: T): Promise<T> => {
      try {
        return await work();
      } catch (err) {
        errors.push(err);
        return fallback;
      }
    };

    const created: { name: string; moved: number }[] = [];
    const skippedMoves: { from: number; rows: number }[] = [];
    await step(async () => {
      const existing = (await repo.list()).flatMap((p) => (p.range ? [p.range] : []));
      // Rows of the default partition get a partition of their own when retention keeps them and it is not far ahead,
      // unless there are so many that moving them would hold ingest too long (an operator moves them in a quiet hour).
      const waiting = [...(await repo.defaultIntervals(interval, dropBefore ?? 0))].filter(([t]) => t <= now + MAX_AHEAD_SECONDS);
      for (const [from, rows] of waiting) if (rows > this.maxMove) skippedMoves.push({ from, rows });
      const movable = waiting.filter(([, rows]) => rows <= this.maxMove).map(([t]) => t);
      const blocked = skippedMoves.map((m) => ({ from: m.from, to: nextIntervalStart(m.from, interval) }));
      for (const range of rangesToCreate([...existing, ...blocked], now, interval, ahead, movable)) {
        const made = await step(() => repo.create(range), null);
        if (made) created.push(made);
      }
    }, undefined);

    const dropped: string[] = [];
    const postponedDrops: { name: string; keep: number }[] = [];
    let strayDeleted = 0;
    let keptLate = 0;
    if (dropBefore !== null) {
      await step(async () => {
        let plan = await this.planRetention(dropBefore);
        for (let tries = 1; plan === null && tries < PLAN_TRIES; tries++) plan = await this.planRetention(dropBefore);
        if (plan === null) throw new Error(`retention: the partitions of call_events changed during each of ${PLAN_TRIES} plans; dropping waits for the next run`);
        postponedDrops.push(...plan.postponed);
        // Every drop and the first stray rows in one transaction: a drop that fails or finds rows stored since the
        // plan leaves nothing done, rather than some partitions gone above the events of another that stays.
        const result = await repo.dropAll(plan.drops, plan.keepAbove, this.maxKeep, { before: dropBefore, limit: DELETE_BATCH });
        if (result.outcome === 'postponed') return void postponedDrops.push({ name: result.name, keep: result.keep });
        dropped.push(...result.dropped);
        keptLate += result.kept;
        strayDeleted += result.strayDeleted;
        for (let n = result.strayDeleted; n === DELETE_BATCH && !this.job.isStopped; strayDeleted += n) n = await repo.deleteStrayBefore(dropBefore, DELETE_BATCH, plan.keepAbove);
      }, undefined);
    }

    let callsDeleted = 0;
    const callHorizon = eventHorizon(callRetentionDays, now);
    if (callHorizon !== null) {
      await step(async () => {
        for (let n = DELETE_BATCH; n === DELETE_BATCH && !this.job.isStopped; callsDeleted += n) n = await repo.deleteCallsBefore(callHorizon, DELETE_BATCH);
      }, undefined);
    }

    const partitions = (await step(() => repo.list(), [])).length;
    const oldestEventAt = await step(() => repo.oldestEventTime(), null);
    return { outcome: errors.length > 0 ? 'error' : 'ok', created, skippedMoves, dropped, keptLate, postponedDrops, strayDeleted, callsDeleted, partitions, oldestEventAt, error: errors[0], errors: errors.length };
  }
}
