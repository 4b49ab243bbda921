import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The tables a BI role may read, each through a view of the `bi` schema. */
const SCOPED_TABLES = ['calls', 'call_participants', 'call_events'];

/**
 * BI access (docs/bi.md): a `bi` schema of plain views with friendly names, and row-level security
 * that limits a BI role (a member of `calltrail_bi`, created by `npm run bi -- create-role`) to the
 * apps listed for it in `bi_role_apps`. Every other role reads as before: a permissive policy lets
 * everyone through, and the restrictive one only narrows BI roles (calltrail's own role owns the
 * tables, so RLS does not even apply to it). The views are `security_invoker` (PostgreSQL 15+), so
 * RLS applies to whoever queries them; on an older server they are created without it, and
 * `create-role` refuses to run.
 */
export class CreateBiViews1795780000000 implements MigrationInterface {
  name = 'CreateBiViews1795780000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE bi_role_apps (
        role_name  text         NOT NULL,
        sdk_app_id text         NOT NULL,
        created_at timestamptz  NOT NULL DEFAULT now(),
        CONSTRAINT pk_bi_role_apps PRIMARY KEY (role_name, sdk_app_id)
      )`);
    await q.query(`ALTER TABLE bi_role_apps ENABLE ROW LEVEL SECURITY`);
    await q.query(`CREATE POLICY bi_role_apps_own ON bi_role_apps FOR SELECT USING (role_name = current_user)`);
    // Every role's statements on the scoped tables read it in their policy (even where the policy lets them
    // through anyway): each sees only its own rows.
    await q.query(`GRANT SELECT ON bi_role_apps TO PUBLIC`);
    // A role that does not exist yet is nobody's group: the function is false until create-role makes it.
    await q.query(`
      CREATE FUNCTION bi_restricted() RETURNS boolean LANGUAGE sql STABLE AS $$
        SELECT coalesce(pg_catalog.pg_has_role(current_user, (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'calltrail_bi'), 'MEMBER'), false)
      $$`);
    await q.query(`GRANT EXECUTE ON FUNCTION bi_restricted() TO PUBLIC`);
    for (const table of SCOPED_TABLES) {
      await q.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
      await q.query(`CREATE POLICY calltrail_all ON ${table} USING (true) WITH CHECK (true)`);
      // Scalar subqueries: evaluated once per statement, not per row.
      await q.query(`
        CREATE POLICY bi_apps ON ${table} AS RESTRICTIVE FOR SELECT
        USING (NOT (SELECT bi_restricted()) OR sdk_app_id IN (SELECT a.sdk_app_id FROM bi_role_apps a WHERE a.role_name = current_user))`);
    }
    const rows: { v: string }[] = await q.query(`SELECT current_setting('server_version_num') AS v`);
    const invoker = Number(rows[0].v) >= 150000 ? 'WITH (security_invoker = true)' : '';
    await q.query(`CREATE SCHEMA bi`);
    await q.query(`
      CREATE VIEW bi.calls ${invoker} AS
      SELECT c.sdk_app_id, c.call_id, c.room_id, c.call_type, c.media_type, c.status, c.result, c.caller_id,
             c.started_at, c.accepted_at AS answered_at, c.ended_at, c.accepted_at IS NOT NULL AS answered,
             c.ring_seconds, c.talk_seconds, c.participant_count, c.last_event_at,
             (c.started_at AT TIME ZONE 'UTC')::date AS day
      FROM calls c`);
    await q.query(`
      CREATE VIEW bi.participants ${invoker} AS
      SELECT p.sdk_app_id, p.call_id, p.user_id, p.role, p.outcome, p.platform, p.invited_at, p.answered_at, p.left_at,
             p.answered_at IS NOT NULL AS answered,
             extract(epoch FROM p.left_at - p.answered_at)::integer AS talk_seconds,
             p.call_type, p.media_type, p.started_at AS call_started_at
      FROM call_participants p`);
    await q.query(`
      CREATE VIEW bi.events ${invoker} AS
      SELECT e.position, e.sdk_app_id, e.call_id, e.room_id, e.user_id, e.role, e.event_type AS event, e.raw_event,
             e.call_type, e.media_type, e.call_result AS result, e.raw_call_result, e.event_time, e.received_at,
             e.platform, e.client_ip, e.command
      FROM call_events e`);
    // The same figures as GraphQL callStats(groupBy: [MEDIA_TYPE, CALL_TYPE], interval: DAY) per app, in UTC.
    await q.query(`
      CREATE VIEW bi.daily_stats ${invoker} AS
      SELECT (c.started_at AT TIME ZONE 'UTC')::date AS day, c.sdk_app_id, c.media_type, c.call_type,
             count(*)::integer AS calls,
             count(*) FILTER (WHERE c.accepted_at IS NOT NULL)::integer AS answered,
             (count(*) FILTER (WHERE c.accepted_at IS NOT NULL))::float8 / count(*) AS answer_rate,
             count(*) FILTER (WHERE c.result = 'NOT_ANSWER')::integer AS missed,
             coalesce(sum(c.talk_seconds) FILTER (WHERE c.accepted_at IS NOT NULL), 0)::bigint AS total_talk_seconds,
             (avg(c.talk_seconds) FILTER (WHERE c.accepted_at IS NOT NULL AND c.talk_seconds IS NOT NULL))::float8 AS avg_talk_seconds,
             coalesce(sum(c.ring_seconds), 0)::bigint AS total_ring_seconds,
             avg(c.ring_seconds)::float8 AS avg_ring_seconds
      FROM calls c
      GROUP BY 1, 2, 3, 4`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP SCHEMA bi CASCADE`);
    for (const table of SCOPED_TABLES) {
      await q.query(`DROP POLICY bi_apps ON ${table}`);
      await q.query(`DROP POLICY calltrail_all ON ${table}`);
      await q.query(`ALTER TABLE ${table} DISABLE ROW LEVEL SECURITY`);
    }
    await q.query(`DROP FUNCTION bi_restricted()`);
    await q.query(`DROP TABLE bi_role_apps`);
  }
}
