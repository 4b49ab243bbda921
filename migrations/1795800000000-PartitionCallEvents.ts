import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Every column of `call_events`, in table order. */
const COLUMNS = `position, sdk_app_id, call_id, room_id, user_id, role, raw_event, event_type, call_type, media_type,
  total_num, call_result, raw_call_result, event_time, start_call_at, accept_at, end_at, command, client_ip,
  platform, received_at, body, dedupe_key`;

/** Months further than this from now get no partition of their own here: their rows go to the default partition. */
const MONTHS_BACK = 240;
const MONTHS_AHEAD = 2;

interface Grant {
  readonly grantee: string;
  readonly privilege: string;
}

/** The privileges others hold on `call_events` (a BI group, an operator's read-only role, PUBLIC). */
async function grantsOf(q: QueryRunner): Promise<Grant[]> {
  return q.query(`
    SELECT grantee, privilege_type AS privilege FROM information_schema.role_table_grants
    WHERE table_schema = current_schema() AND table_name = 'call_events' AND grantee <> current_user`);
}

/** Gives the same privileges on the table now called `call_events`. */
async function grantAll(q: QueryRunner, grants: readonly Grant[]): Promise<void> {
  for (const { grantee, privilege } of grants) {
    const to = grantee === 'PUBLIC' ? 'PUBLIC' : `"${grantee.replace(/"/g, '""')}"`;
    await q.query(`GRANT ${privilege} ON call_events TO ${to}`);
  }
}

/**
 * `call_events` becomes a table partitioned by month of `event_time` (docs/architecture.md, Event
 * partitions). The event time comes from the body, so every redelivery of a body falls in the same
 * partition, and the dedupe constraint (which PostgreSQL requires to include the partition key) holds
 * as before: `(sdk_app_id, dedupe_key, event_time)`. Positions keep their sequence, so cursors of
 * consoles and the live hub stay valid. Times outside the months created here land in
 * `call_events_default`; the server creates partitions ahead and moves such rows (`EventPartitions`).
 *
 * An existing table is copied into the new one in this migration's transaction: ingest and reads of
 * `call_events` wait for it (about 22 s per million events on a 2-core machine, docs/benchmarks.md, "Partitions at size"),
 * and replicas still running meanwhile spool their callbacks once their commits time out.
 *
 * The SQL is written out here on purpose (not imported from src/): a migration must keep meaning what
 * it meant when it first ran.
 */
export class PartitionCallEvents1795800000000 implements MigrationInterface {
  name = 'PartitionCallEvents1795800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`SET LOCAL maintenance_work_mem = '256MB'`);
    await q.query(`LOCK TABLE call_events IN ACCESS EXCLUSIVE MODE`);
    const grants = await grantsOf(q);
    await setAside(q, 'call_events_unpartitioned');

    await q.query(`
      CREATE TABLE call_events (
        position        bigint       NOT NULL DEFAULT nextval('call_events_position_seq'),
        sdk_app_id      text         NOT NULL,
        call_id         text         NOT NULL,
        room_id         text,
        user_id         text,
        role            text,
        raw_event       text         NOT NULL,
        event_type      text         NOT NULL,
        call_type       text,
        media_type      text,
        total_num       integer,
        call_result     text,
        raw_call_result text,
        event_time      timestamptz  NOT NULL,
        start_call_at   timestamptz,
        accept_at       timestamptz,
        end_at          timestamptz,
        command         text,
        client_ip       text,
        platform        text,
        received_at     timestamptz  NOT NULL DEFAULT now(),
        body            jsonb        NOT NULL,
        dedupe_key      text         NOT NULL
      ) PARTITION BY RANGE (event_time)`);
    await q.query(`ALTER SEQUENCE call_events_position_seq OWNED BY call_events.position`);
    await q.query(`COMMENT ON TABLE call_events IS 'Stored callbacks, partitioned by month of event_time; partitions are created ahead and dropped past RETENTION_DAYS by the server (docs/architecture.md)'`);
    await q.query(`CREATE TABLE call_events_default PARTITION OF call_events DEFAULT`);

    // One partition per month that has events, and the months around now; far-off times stay in the default partition.
    const months: { m: string; next: string }[] = await q.query(`
      WITH bounds AS (
        SELECT date_trunc('month', now(), 'UTC') - make_interval(months => ${MONTHS_BACK}) AS lo,
               date_trunc('month', now(), 'UTC') + make_interval(months => ${MONTHS_AHEAD}) AS hi
      )
      SELECT to_char(m AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS m, to_char((m AT TIME ZONE 'UTC') + interval '1 month', 'YYYY-MM-DD') AS next FROM (
        SELECT DISTINCT date_trunc('month', event_time, 'UTC') AS m FROM call_events_unpartitioned
        UNION
        SELECT generate_series(date_trunc('month', now(), 'UTC'), (SELECT hi FROM bounds), interval '1 month')
      ) x, bounds WHERE m >= bounds.lo AND m <= bounds.hi ORDER BY m`);
    for (const { m, next } of months) {
      await q.query(`CREATE TABLE call_events_p${m.replace(/-/g, '')} PARTITION OF call_events FOR VALUES FROM ('${m} 00:00:00+00') TO ('${next} 00:00:00+00')`);
    }

    // Rows first, then indexes: building each partition's indexes once is faster than maintaining them row by row.
    await q.query(`INSERT INTO call_events (${COLUMNS}) SELECT ${COLUMNS} FROM call_events_unpartitioned`);
    await q.query(`DROP TABLE call_events_unpartitioned`);
    // The event time joins the keys: PostgreSQL requires the partition key in every unique constraint.
    await completeTable(q, 'position, event_time', 'sdk_app_id, dedupe_key, event_time', grants);
    await q.query(`ANALYZE call_events`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`LOCK TABLE call_events IN ACCESS EXCLUSIVE MODE`);
    const grants = await grantsOf(q);
    await setAside(q, 'call_events_partitioned');
    await q.query(`CREATE TABLE call_events (LIKE call_events_partitioned INCLUDING DEFAULTS)`);
    await q.query(`ALTER SEQUENCE call_events_position_seq OWNED BY call_events.position`);
    await q.query(`INSERT INTO call_events (${COLUMNS}) SELECT ${COLUMNS} FROM call_events_partitioned`);
    await q.query(`DROP TABLE call_events_partitioned`);
    await completeTable(q, 'position', 'sdk_app_id, dedupe_key', grants);
  }
}

/** Renames `call_events`, its keys and indexes to `name…`, so a new `call_events` can take their names; its BI view goes. */
async function setAside(q: QueryRunner, name: string): Promise<void> {
  await q.query(`DROP VIEW IF EXISTS bi.events`);
  await q.query(`ALTER TABLE call_events RENAME TO ${name}`);
  await q.query(`ALTER TABLE ${name} RENAME CONSTRAINT pk_call_events TO pk_${name}`);
  await q.query(`ALTER TABLE ${name} RENAME CONSTRAINT uq_call_events_dedupe TO uq_${name}_dedupe`);
  for (const ix of ['call', 'user_time', 'app_time']) await q.query(`ALTER INDEX ix_call_events_${ix} RENAME TO ix_${name}_${ix}`);
}

/**
 * Gives the filled `call_events` its keys and indexes (built after the rows: once per partition, faster
 * than row by row), the privileges its predecessor had, the row-level security of CreateBiViews (policies
 * on a partitioned table apply to every read through it) and its `bi.events` view.
 */
async function completeTable(q: QueryRunner, primaryKey: string, dedupeKey: string, grants: readonly Grant[]): Promise<void> {
  await q.query(`ALTER TABLE call_events ADD CONSTRAINT pk_call_events PRIMARY KEY (${primaryKey})`);
  await q.query(`ALTER TABLE call_events ADD CONSTRAINT uq_call_events_dedupe UNIQUE (${dedupeKey})`);
  await q.query(`CREATE INDEX ix_call_events_call ON call_events (sdk_app_id, call_id, position)`);
  await q.query(`CREATE INDEX ix_call_events_user_time ON call_events (sdk_app_id, user_id, event_time, position)`);
  await q.query(`CREATE INDEX ix_call_events_app_time ON call_events (sdk_app_id, event_time, position)`);
  await grantAll(q, grants);
  await q.query(`ALTER TABLE call_events ENABLE ROW LEVEL SECURITY`);
  await q.query(`CREATE POLICY calltrail_all ON call_events USING (true) WITH CHECK (true)`);
  await q.query(`
    CREATE POLICY bi_apps ON call_events AS RESTRICTIVE FOR SELECT
    USING (NOT (SELECT bi_restricted()) OR sdk_app_id IN (SELECT a.sdk_app_id FROM bi_role_apps a WHERE a.role_name = current_user))`);
  await createEventsView(q);
}

/** `bi.events` as CreateBiViews made it (a view is bound to the table it was created on). */
async function createEventsView(q: QueryRunner): Promise<void> {
  const rows: { v: string }[] = await q.query(`SELECT current_setting('server_version_num') AS v`);
  const invoker = Number(rows[0].v) >= 150000 ? 'WITH (security_invoker = true)' : '';
  await q.query(`
    CREATE VIEW bi.events ${invoker} AS
    SELECT e.position, e.sdk_app_id, e.call_id, e.room_id, e.user_id, e.role, e.event_type AS event, e.raw_event,
           e.call_type, e.media_type, e.call_result AS result, e.raw_call_result, e.event_time, e.received_at,
           e.platform, e.client_ip, e.command
    FROM call_events e`);
  const group: unknown[] = await q.query(`SELECT 1 FROM pg_roles WHERE rolname = 'calltrail_bi'`);
  if (group.length > 0) await q.query(`GRANT SELECT ON bi.events TO calltrail_bi`);
}
