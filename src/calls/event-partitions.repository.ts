import type { DataSource, EntityManager } from 'typeorm';
import { POSITION_LOCK } from '../db/advisory-lock';
import { intervalStart, partitionName, uncovered, type PartitionInterval, type TimeRange } from '../domain/partition-ranges';

/** Serialises changes to the partitions of `call_events` across replicas (transaction-level). */
const PARTITION_LOCK = 0x70617274; // "part"

/** The stray-time partition made by the migration PartitionCallEvents. */
export const DEFAULT_PARTITION = 'call_events_default';

/**
 * How long one try of a partition change waits for a table lock. Attaching takes the default partition's
 * exclusive lock and dropping the parent's: ingest's reads of `call_events` queue behind a waiting one, so
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

/**
 * The one door to the partitions of `call_events` and to retention's deletes: lists, creates (moving
 * the rows the default partition holds for the new range), drops. Every change runs under
 * {@link PARTITION_LOCK}, so replicas doing the same at once wait for each other instead of failing.
 */
export class EventPartitionRepository {
  constructor(private readonly dataSource: DataSource) {}

  async list(manager: Pick<EntityManager, 'query'> = this.dataSource): Promise<EventPartition[]> {
    const rows: { name: string; from: number | null; to: number | null }[] = await manager.query(`
      SELECT c.relname AS name,
        extract(epoch FROM (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz)::float8 AS "from",
        extract(epoch FROM (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz)::float8 AS "to"
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'call_events'::regclass
      ORDER BY 2 NULLS FIRST`);
    return rows.map((r) => ({ name: r.name, range: r.from === null || r.to === null ? null : { from: r.from, to: r.to } }));
  }

  /** Starts (Unix seconds) of the intervals for which the default partition holds rows, from `since` on. */
  async defaultIntervals(interval: PartitionInterval, since: number): Promise<number[]> {
    const rows: { t: number }[] = await this.dataSource.query(
      `SELECT DISTINCT extract(epoch FROM date_trunc('day', event_time, 'UTC'))::float8 AS t FROM ${DEFAULT_PARTITION} WHERE event_time >= to_timestamp($1)`,
      [since],
    );
    return [...new Set(rows.map((r) => intervalStart(r.t, interval)))].sort((a, b) => a - b);
  }

  /**
   * Creates the partition for `range` and moves into it the rows the default partition holds for it,
   * in one transaction. Returns the rows moved, or null when another replica created an overlapping
   * partition meanwhile (nothing is done). Throws (lock timeout) when the default partition stayed busy.
   */
  async create(range: TimeRange): Promise<{ name: string; moved: number } | null> {
    const name = partitionName(range.from);
    // Ingest's lock too: a batch routes its rows by the partitions it saw when it started, and a row routed to
    // the default partition before the attach would fail the default partition's new check after it.
    return this.retryingLocks({ withIngestLock: true }, async (tx) => {
      const taken = (await this.list(tx)).flatMap((p) => (p.range ? [p.range] : []));
      const free = uncovered(range, taken);
      if (free.length !== 1 || free[0].from !== range.from || free[0].to !== range.to) return null;
      const bounds = [new Date(range.from * 1000).toISOString(), new Date(range.to * 1000).toISOString()];
      // Under ingest's lock (below): no row for the range can land in the default partition between the move and the attach.
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

  /** Drops a partition with all its rows (retention); false when it no longer exists. */
  async drop(name: string): Promise<boolean> {
    if (!PARTITION_NAME.test(name)) throw new Error(`partition: expected a name like call_events_p20260101, got ${JSON.stringify(name)}`);
    return this.retryingLocks({ withIngestLock: false }, async (tx) => {
      if (!(await this.list(tx)).some((p) => p.name === name)) return false;
      await tx.query(`DROP TABLE ${name}`);
      return true;
    });
  }

  /** Deletes up to `limit` rows of the default partition with an event time before `before` (Unix seconds); returns how many. */
  async deleteStrayBefore(before: number, limit: number): Promise<number> {
    const rows: { n: number }[] = await this.dataSource.query(
      `WITH d AS (DELETE FROM ${DEFAULT_PARTITION} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${DEFAULT_PARTITION} WHERE event_time < to_timestamp($1) LIMIT $2)) RETURNING 1)
       SELECT count(*)::int AS n FROM d`,
      [before, limit],
    );
    return rows[0].n;
  }

  /**
   * Deletes up to `limit` calls (their participants with them) that started before `before` (Unix
   * seconds), oldest first; returns how many. The stats rollup's triggers mark their hours, so stats
   * forget them too.
   */
  async deleteCallsBefore(before: number, limit: number): Promise<number> {
    const rows: { n: number }[] = await this.dataSource.query(
      `WITH d AS (DELETE FROM calls WHERE id IN (SELECT id FROM calls WHERE started_at < to_timestamp($1) ORDER BY started_at, id LIMIT $2) RETURNING 1)
       SELECT count(*)::int AS n FROM d`,
      [before, limit],
    );
    return rows[0].n;
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
   * follows after a short random pause, up to {@link LOCK_TRIES} tries.
   */
  private async retryingLocks<T>(options: { withIngestLock: boolean }, change: (tx: EntityManager) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.dataSource.transaction(async (tx) => {
          await tx.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK]);
          if (options.withIngestLock) await tx.query('SELECT pg_advisory_xact_lock($1)', [POSITION_LOCK]);
          await tx.query(`SET LOCAL lock_timeout = ${LOCK_TIMEOUT_MS}`);
          return change(tx);
        });
      } catch (err) {
        if ((err as { code?: string }).code !== LOCK_NOT_AVAILABLE || attempt >= LOCK_TRIES) throw err;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 400));
      }
    }
  }
}
