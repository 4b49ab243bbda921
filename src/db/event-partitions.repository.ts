import type { DataSource, EntityManager } from 'typeorm';
import { POSITION_LOCK } from './advisory-lock';
import { intervalStart, nextIntervalStart, partitionName, uncovered, type PartitionInterval, type TimeRange } from '../domain/partition-ranges';

/** Serialises changes to the partitions of `call_events` across replicas (transaction-level). */
const PARTITION_LOCK = 0x70617274; // "part"

/** Completes an INSERT of a position into `event_retention_floor`: the floor only ever rises. */
const RAISE_FLOOR = `ON CONFLICT (id) DO UPDATE SET position = greatest(event_retention_floor.position, excluded.position), updated_at = now()`;

/** Above every position (bigint's largest): "keep nothing" for retention's deletes. */
const MAX_POSITION = '9223372036854775807';

/** Events of a dropped partition a drop moves to the default partition at most (more would hold ingest). */
export const MAX_KEEP_ROWS = 10_000;

/** The stray-time partition made by the migration PartitionCallEvents. */
export const DEFAULT_PARTITION = 'call_events_default';

/**
 * How long one try of a partition change waits for a table lock. Creating and dropping a partition take
 * the parent's exclusive lock: ingest's reads of `call_events` queue behind a waiting one, so
 * each wait is kept far below ingest's commit deadline, and the change is tried again a moment later
 * (docs/architecture.md, Event partitions).
 */
const LOCK_TIMEOUT_MS = 100;
/** Tries of one change before the run gives up on it until the next run. */
const LOCK_TRIES = 20;
/** SQLSTATE lock_not_available: `lock_timeout` expired. */
const LOCK_NOT_AVAILABLE = '55P03';

/** A partition of `call_events`; `range` is null for the default partition. */
export interface EventPartition {
  readonly name: string;
  readonly range: TimeRange | null;
}

const PARTITION_NAME = /^call_events_p\d{8}(_\d{6})?$/;

/** Names are written into statements: only a range partition's name passes. */
function checkName(name: string): void {
  if (!PARTITION_NAME.test(name)) throw new Error(`partition: expected a name like call_events_p20260101, got ${JSON.stringify(name)}`);
}

/**
 * The one door to the partitions of `call_events` and to retention's deletes: lists, creates (moving
 * the rows the default partition holds for the new range), drops. Every change runs under
 * {@link PARTITION_LOCK}, so replicas doing the same at once wait for each other instead of failing.
 */
export class EventPartitionRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * The partitions, oldest first. Their bounds are read from `pg_get_expr`, whose text follows the
   * session's DateStyle and TimeZone: they are set to ISO and UTC for the reading transaction.
   */
  async list(tx?: EntityManager): Promise<EventPartition[]> {
    if (!tx) return this.dataSource.transaction((t) => this.list(t));
    await tx.query(`SET LOCAL DateStyle = 'ISO'`);
    await tx.query(`SET LOCAL TimeZone = 'UTC'`);
    const rows: { name: string; from: number | null; to: number | null }[] = await tx.query(`
      SELECT c.relname AS name,
        extract(epoch FROM (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz)::float8 AS "from",
        extract(epoch FROM (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz)::float8 AS "to"
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'call_events'::regclass
      ORDER BY 2 NULLS FIRST`);
    return rows.map((r) => ({ name: r.name, range: r.from === null || r.to === null ? null : { from: r.from, to: r.to } }));
  }

  /** Rows the default partition holds per interval (keyed by its start, Unix seconds), from `since` on. */
  async defaultIntervals(interval: PartitionInterval, since: number): Promise<Map<number, number>> {
    const rows: { t: number; n: number }[] = await this.dataSource.query(
      `SELECT extract(epoch FROM date_trunc('day', event_time, 'UTC'))::float8 AS t, count(*)::int AS n FROM ${DEFAULT_PARTITION} WHERE event_time >= to_timestamp($1) GROUP BY 1`,
      [since],
    );
    const out = new Map<number, number>();
    for (const r of rows) out.set(intervalStart(r.t, interval), (out.get(intervalStart(r.t, interval)) ?? 0) + r.n);
    return out;
  }

  /** Rows the default partition holds in `range`, counted up to `limit` + 1 (enough to tell "more than `limit`"). */
  async defaultRows(range: TimeRange, limit: number): Promise<number> {
    const rows: { n: number }[] = await this.dataSource.query(
      `SELECT count(*)::int AS n FROM (SELECT 1 FROM ${DEFAULT_PARTITION} WHERE event_time >= to_timestamp($1) AND event_time < to_timestamp($2) LIMIT $3) s`,
      [range.from, range.to, limit + 1],
    );
    return rows[0].n;
  }

  /**
   * Creates the partition for `range` and moves into it the rows the default partition holds for it,
   * in one transaction. Returns the rows moved, or null when another replica created an overlapping
   * partition meanwhile (nothing is done). Throws (lock timeout) when a table stayed busy for `tries`
   * tries of {@link LOCK_TIMEOUT_MS} each.
   */
  async create(range: TimeRange, tries = LOCK_TRIES): Promise<{ name: string; moved: number } | null> {
    const name = partitionName(range.from);
    // Ingest's lock too: a batch routes its rows by the partitions it saw when it started, and a row routed to
    // the default partition before the attach would fail the default partition's new check after it.
    return this.retryingLocks({ withIngestLock: true, tries }, async (tx) => {
      const taken = (await this.list(tx)).flatMap((p) => (p.range ? [p.range] : []));
      const free = uncovered(range, taken);
      if (free.length !== 1 || free[0].from !== range.from || free[0].to !== range.to) return null;
      const bounds = [new Date(range.from * 1000).toISOString(), new Date(range.to * 1000).toISOString()];
      // Under ingest's lock (taken with the partition lock): no row for the range can land in the default partition
      // between the move and the attach. The parent's lock first: a read that waited only for the default
      // partition's would go on with the partitions it planned before the attach, and miss every moved row;
      // waiting for the parent's, it plans after the commit and reads them in the new partition. ONLY: without
      // it, every partition would be locked too, and a vacuum of any one of them would hold the creation.
      await tx.query(`LOCK TABLE ONLY call_events IN ACCESS EXCLUSIVE MODE`);
      await tx.query(`LOCK TABLE ${DEFAULT_PARTITION} IN ACCESS EXCLUSIVE MODE`);
      await tx.query(`CREATE TABLE ${name} (LIKE call_events INCLUDING DEFAULTS)`);
      // Lets ATTACH skip checking the new table's rows.
      await tx.query(`ALTER TABLE ${name} ADD CONSTRAINT ${name}_range CHECK (event_time >= '${bounds[0]}' AND event_time < '${bounds[1]}')`);
      const moved: { n: number }[] = await tx.query(`
        WITH moved AS (DELETE FROM ${DEFAULT_PARTITION} WHERE event_time >= '${bounds[0]}' AND event_time < '${bounds[1]}' RETURNING *),
          copied AS (INSERT INTO ${name} SELECT * FROM moved RETURNING 1)
        SELECT count(*)::int AS n FROM copied`);
      await tx.query(`ALTER TABLE call_events ATTACH PARTITION ${name} FOR VALUES FROM ('${bounds[0]}') TO ('${bounds[1]}')`);
      await tx.query(`ALTER TABLE ${name} DROP CONSTRAINT ${name}_range`);
      return { name, moved: moved[0].n };
    });
  }

  /** The lowest position in a partition (null when empty): a probe of its primary key. */
  async minPosition(name: string): Promise<string | null> {
    checkName(name);
    const rows: { p: string | null }[] = await this.dataSource.query(`SELECT min(position)::text AS p FROM ${name}`);
    return rows[0]?.p ?? null;
  }

  /** The lowest position among rows of the default partition with an event time at or after `since` (Unix seconds). */
  async defaultMinPosition(since: number): Promise<string | null> {
    const rows: { p: string | null }[] = await this.dataSource.query(`SELECT min(position)::text AS p FROM ${DEFAULT_PARTITION} WHERE event_time >= to_timestamp($1)`, [since]);
    return rows[0]?.p ?? null;
  }

  /** The position sequence's last value: every event stored later has a higher position. */
  async positionHead(): Promise<string> {
    const rows: { p: string }[] = await this.dataSource.query(`SELECT last_value::text AS p FROM call_events_position_seq`);
    return rows[0].p;
  }

  /** Rows of a partition at positions above `above` (null: none), counted up to `limit` + 1. */
  async countAbove(name: string, above: string | null, limit: number, db: Pick<DataSource, 'query'> = this.dataSource): Promise<number> {
    checkName(name);
    const rows: { n: number }[] = await db.query(`SELECT count(*)::int AS n FROM (SELECT 1 FROM ${name} WHERE position > $1::bigint LIMIT $2) k`, [above ?? MAX_POSITION, limit + 1]);
    return rows[0].n;
  }

  /**
   * Drops partitions (retention), in one transaction, keeping their events at positions above
   * `keepAbove` (null: none; late callbacks of their days, stored after events retention keeps): those
   * are moved to the default partition, where a later run deletes them once every event before them is
   * gone. The highest position dropped raises the retention floor in the same transaction, and so do the
   * first `stray.limit` stray rows deleted with them (`deleteStrayBefore`), so no partly done retention is
   * ever seen (docs/architecture.md, Event partitions and retention). Nothing is done, and the first such
   * partition is returned as 'postponed', when one holds more than `maxKeep` events to keep: moving them
   * would hold ingest (an import of old days does this; the partition goes once the events stored before
   * it have). Partitions that no longer exist are skipped.
   */
  async dropAll(
    names: readonly string[],
    keepAbove: string | null,
    maxKeep = MAX_KEEP_ROWS,
    stray: { readonly before: number; readonly limit: number } | null = null,
  ): Promise<{ outcome: 'dropped'; dropped: string[]; kept: number; strayDeleted: number } | { outcome: 'postponed'; name: string; keep: number }> {
    for (const name of names) checkName(name);
    return this.retryingLocks({ withIngestLock: false, tries: LOCK_TRIES }, async (tx) => {
      const existing = new Set((await this.list(tx)).map((p) => p.name));
      const above = keepAbove ?? MAX_POSITION;
      const plan: { name: string; keep: number }[] = [];
      for (const name of names.filter((n) => existing.has(n))) {
        // Readers pass a SHARE lock; no row can be added unseen (none should: its times are past the horizon).
        await tx.query(`LOCK TABLE ${name} IN SHARE MODE`);
        const keep = await this.countAbove(name, above, maxKeep, tx);
        if (keep > maxKeep) return { outcome: 'postponed' as const, name, keep };
        plan.push({ name, keep });
      }
      for (const { name } of plan) {
        await tx.query(`INSERT INTO event_retention_floor (position) SELECT max(position) FROM ${name} WHERE position <= $1::bigint HAVING max(position) IS NOT NULL ${RAISE_FLOOR}`, [above]);
      }
      // Columns by name: a partition attached by the migration may order them differently.
      const columns = plan.some((p) => p.keep > 0) ? await this.columnList(tx) : '';
      for (const { name, keep } of plan) {
        if (keep > 0) {
          // Detached, its range is no partition's: the kept rows go to the default partition, positions unchanged.
          await tx.query(`ALTER TABLE call_events DETACH PARTITION ${name}`);
          await tx.query(`INSERT INTO call_events (${columns}) SELECT ${columns} FROM ${name} WHERE position > $1::bigint`, [above]);
        }
        await tx.query(`DROP TABLE ${name}`);
      }
      const strayDeleted = stray ? await this.deleteStrayBefore(stray.before, stray.limit, keepAbove, tx) : 0;
      return { outcome: 'dropped' as const, dropped: plan.map((p) => p.name), kept: plan.reduce((n, p) => n + p.keep, 0), strayDeleted };
    });
  }

  /** The columns of `call_events`, quoted, in order. */
  private async columnList(tx: EntityManager): Promise<string> {
    const [{ columns }]: { columns: string }[] = await tx.query(
      `SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) AS columns FROM pg_attribute WHERE attrelid = 'call_events'::regclass AND attnum > 0 AND NOT attisdropped`,
    );
    return columns;
  }

  /**
   * Deletes up to `limit` rows of the default partition with an event time before `before` (Unix
   * seconds) and a position at or below `keepAbove` (null: any), the lowest positions first, raising the
   * retention floor in the same statement; returns how many. Lowest first: every row left is above
   * what went, batch after batch.
   */
  async deleteStrayBefore(before: number, limit: number, keepAbove: string | null = null, db: Pick<DataSource, 'query'> = this.dataSource): Promise<number> {
    const rows: { n: number }[] = await db.query(
      `WITH d AS (DELETE FROM ${DEFAULT_PARTITION} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${DEFAULT_PARTITION} WHERE event_time < to_timestamp($1) AND position <= $3::bigint ORDER BY position LIMIT $2)) RETURNING position),
         f AS (INSERT INTO event_retention_floor (position) SELECT max(position) FROM d HAVING max(position) IS NOT NULL ${RAISE_FLOOR})
       SELECT count(*)::int AS n FROM d`,
      [before, limit, keepAbove ?? MAX_POSITION],
    );
    return rows[0].n;
  }

  /**
   * Deletes up to `limit` calls (their participants with them) that started before `before` (Unix
   * seconds), oldest first; returns how many. The stats rollup's triggers mark their hours, so stats
   * forget them too.
   */
  async deleteCallsBefore(before: number, limit: number): Promise<number> {
    // Under ingest's lock, like a batch: a batch upserting the same calls in another order would otherwise deadlock with it.
    return this.dataSource.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [POSITION_LOCK]);
      const rows: { n: number }[] = await tx.query(
        `WITH d AS (DELETE FROM calls WHERE id IN (SELECT id FROM calls WHERE started_at < to_timestamp($1) ORDER BY started_at, id LIMIT $2) RETURNING 1)
         SELECT count(*)::int AS n FROM d`,
        [before, limit],
      );
      return rows[0].n;
    });
  }

  /** The oldest event time kept (Unix seconds), or null when there is no event: one index probe per app and partition. */
  async oldestEventTime(): Promise<number | null> {
    const rows: { t: number | null }[] = await this.dataSource.query(`
      WITH RECURSIVE apps AS (
        (SELECT sdk_app_id FROM call_events ORDER BY sdk_app_id LIMIT 1)
        UNION ALL
        SELECT (SELECT e.sdk_app_id FROM call_events e WHERE e.sdk_app_id > apps.sdk_app_id ORDER BY e.sdk_app_id LIMIT 1)
        FROM apps WHERE apps.sdk_app_id IS NOT NULL
      )
      SELECT extract(epoch FROM min((SELECT min(e.event_time) FROM call_events e WHERE e.sdk_app_id = apps.sdk_app_id)))::float8 AS t
      FROM apps WHERE apps.sdk_app_id IS NOT NULL`);
    return rows[0]?.t ?? null;
  }

  /**
   * Runs `change` in a transaction that first waits for any other process's partition change (and, with
   * `withIngestLock`, for the ingest batch in flight, taking its turn like one), then bounds each of its
   * table-lock waits by {@link LOCK_TIMEOUT_MS}: a lock not had in time rolls the try back, and another
   * follows after a short random pause, up to `options.tries` tries.
   */
  private async retryingLocks<T>(options: { withIngestLock: boolean; tries: number }, change: (tx: EntityManager) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.dataSource.transaction(async (tx) => {
          await tx.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK]);
          if (options.withIngestLock) await tx.query('SELECT pg_advisory_xact_lock($1)', [POSITION_LOCK]);
          await tx.query(`SET LOCAL lock_timeout = ${LOCK_TIMEOUT_MS}`);
          return change(tx);
        });
      } catch (err) {
        if ((err as { code?: string }).code !== LOCK_NOT_AVAILABLE || attempt >= options.tries) throw err;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 400));
      }
    }
  }
}

/** Rows of one interval waiting in the default partition that a creation beside ingest moves at most (more hold ingest too long). */
export const MAX_MOVE_ROWS = 100_000;

/**
 * How a {@link PartitionGuard} tries: lock tries per creation, seconds before a failed one is tried
 * again, and the most rows of the default partition it moves (over that, the interval is left to an
 * operator, as the maintenance run leaves it).
 */
export interface GuardOptions {
  readonly tries: number;
  readonly retryAfterSeconds: number;
  readonly maxMove?: number;
}

/** The default partition holds more rows of an interval than a creation beside ingest moves. */
export class MoveTooLargeError extends Error {
  constructor(range: TimeRange, maxMove: number) {
    super(
      `partition from ${new Date(range.from * 1000).toISOString()}: the default partition holds over ${maxMove} rows for it, ` +
        'and moving them would hold ingest; left to an operator (docs/architecture.md, Event partitions)',
    );
    this.name = 'MoveTooLargeError';
  }
}

/**
 * The guard on ingest's path: one try, then 10 s of rest, during which the interval's rows go to the
 * default partition (the next try moves them; the maintenance run tries too).
 */
export const INGEST_GUARD: GuardOptions = { tries: 1, retryAfterSeconds: 10 };
/** The guard of a bulk import, which no client waits on: every try, on every batch, as the maintenance run does. */
export const BULK_GUARD: GuardOptions = { tries: LOCK_TRIES, retryAfterSeconds: 0 };

/** Event times further ahead than this get no partition of their own: they stay in the default partition. */
export const MAX_AHEAD_SECONDS = 366 * 86_400;

/**
 * Makes sure the partitions for a batch's event times exist before the batch is written, so rows only
 * land in the default partition when their time is far off (more than a year ahead). Moving many rows out
 * of the default partition later would hold ingest for the whole move (docs/architecture.md, Event
 * partitions): an import or backfill of an old month gets its partition first instead. The known ranges
 * are cached for a minute. A creation that fails (a read of `call_events` holds it past the tries) is
 * left to the maintenance run: the rows go to the default partition meanwhile, which is correct, only
 * slower to move. An interval for which the default partition already holds more than `maxMove` rows
 * is not created here either (moving them would hold ingest): the maintenance run leaves it to an
 * operator. On ingest's path ({@link INGEST_GUARD}) a creation gets one try of its table locks
 * ({@link LOCK_TIMEOUT_MS}, after its turn at ingest's lock like a batch), and one that failed is not
 * tried again for 10 s, so a busy table costs a batch that much now and then, not 20 tries (about 8 s)
 * on every batch.
 */
export class PartitionGuard {
  private ranges: TimeRange[] | null = null;
  private readAt = 0;
  /** Interval starts whose creation failed, with when it may be tried again (Unix seconds). */
  private readonly failed = new Map<number, number>();

  constructor(
    private readonly partitions: EventPartitionRepository,
    private readonly interval: PartitionInterval,
    private readonly onError: (err: unknown) => void = () => undefined,
    private readonly nowSeconds: () => number = () => Date.now() / 1000,
    private readonly options: GuardOptions = BULK_GUARD,
  ) {}

  /** Creates the missing partitions for `times` (Unix seconds); never throws. */
  async ensure(times: readonly number[]): Promise<void> {
    try {
      const now = this.nowSeconds();
      if (this.ranges === null || now - this.readAt > 60) await this.refresh(now);
      const missing = new Set<number>();
      for (const t of times) {
        if (t > now + MAX_AHEAD_SECONDS || this.ranges!.some((r) => r.from <= t && t < r.to)) continue;
        missing.add(intervalStart(t, this.interval));
      }
      if (missing.size === 0) return;
      let made = false;
      const maxMove = this.options.maxMove ?? MAX_MOVE_ROWS;
      for (const start of [...missing].sort((a, b) => a - b)) {
        if ((this.failed.get(start) ?? 0) > now) continue;
        try {
          for (const range of uncovered({ from: start, to: nextIntervalStart(start, this.interval) }, this.ranges!)) {
            if ((await this.partitions.defaultRows(range, maxMove)) > maxMove) throw new MoveTooLargeError(range, maxMove);
            await this.partitions.create(range, this.options.tries);
          }
          this.failed.delete(start);
          made = true;
        } catch (err) {
          if (this.options.retryAfterSeconds > 0) this.failed.set(start, now + this.options.retryAfterSeconds);
          this.onError(err);
        }
      }
      if (made) await this.refresh(now);
    } catch (err) {
      this.onError(err);
    }
  }

  private async refresh(now: number): Promise<void> {
    this.ranges = (await this.partitions.list()).flatMap((p) => (p.range ? [p.range] : []));
    this.readAt = now;
  }
}
