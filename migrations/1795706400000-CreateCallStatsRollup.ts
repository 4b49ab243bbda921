import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The hourly stats rollup (docs/architecture.md, Stats rollup): `call_stats_hourly` holds, per app,
 * UTC hour of `started_at` and dimension values, the sums `callStats` needs besides percentiles
 * (`call_stats_hourly_totals`: the same per app and hour alone);
 * statement-level triggers on `calls` mark the (app, hour) pairs a statement touched in
 * `call_stats_dirty`, where the server's refresher finds them. The rollup is filled here from the calls
 * already stored, in the same transaction as the triggers, so no change falls between the two (writers
 * of `calls` wait for this transaction: a few seconds per million calls).
 *
 * The SQL is written out here on purpose (not imported from src/): a migration must keep meaning what
 * it meant when it first ran.
 */
export class CreateCallStatsRollup1795706400000 implements MigrationInterface {
  name = 'CreateCallStatsRollup1795706400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE call_stats_hourly (
        sdk_app_id   text         NOT NULL,
        hour         timestamptz  NOT NULL,
        call_type    text,
        media_type   text,
        result       text,
        status       text         NOT NULL,
        calls        integer      NOT NULL,
        answered     integer      NOT NULL,
        missed       integer      NOT NULL,
        talk_seconds bigint       NOT NULL,
        talk_counted integer      NOT NULL
      )`);
    await q.query(`COMMENT ON TABLE call_stats_hourly IS 'Sums of calls per app, UTC hour of started_at and dimensions; rebuilt hour by hour from calls (docs/architecture.md)'`);
    await q.query(`CREATE INDEX ix_call_stats_hourly_app_hour ON call_stats_hourly (sdk_app_id, hour)`);
    // The same sums over all dimension values: what a request that neither groups nor filters by one reads (14 times fewer rows).
    await q.query(`
      CREATE TABLE call_stats_hourly_totals (
        sdk_app_id   text         NOT NULL,
        hour         timestamptz  NOT NULL,
        calls        integer      NOT NULL,
        answered     integer      NOT NULL,
        missed       integer      NOT NULL,
        talk_seconds bigint       NOT NULL,
        talk_counted integer      NOT NULL,
        CONSTRAINT pk_call_stats_hourly_totals PRIMARY KEY (sdk_app_id, hour)
      )`);
    await q.query(`CREATE SEQUENCE call_stats_dirty_seq`);
    await q.query(`
      CREATE TABLE call_stats_dirty (
        sdk_app_id text         NOT NULL,
        hour       timestamptz  NOT NULL,
        seq        bigint       NOT NULL DEFAULT nextval('call_stats_dirty_seq'),
        CONSTRAINT pk_call_stats_dirty PRIMARY KEY (sdk_app_id, hour)
      )`);
    await q.query(`ALTER SEQUENCE call_stats_dirty_seq OWNED BY call_stats_dirty.seq`);
    await q.query(`CREATE INDEX ix_call_stats_dirty_seq ON call_stats_dirty (seq)`);
    await this.createTriggers(q);
    await q.query(`
      INSERT INTO call_stats_hourly (sdk_app_id, hour, call_type, media_type, result, status, calls, answered, missed, talk_seconds, talk_counted)
      SELECT c.sdk_app_id, date_trunc('hour', c.started_at, 'UTC'), c.call_type, c.media_type, c.result, c.status,
        count(*), count(*) FILTER (WHERE c.accepted_at IS NOT NULL), count(*) FILTER (WHERE c.result = 'NOT_ANSWER'),
        coalesce(sum(c.talk_seconds) FILTER (WHERE c.accepted_at IS NOT NULL), 0), count(c.talk_seconds) FILTER (WHERE c.accepted_at IS NOT NULL)
      FROM calls c WHERE c.started_at IS NOT NULL
      GROUP BY 1, 2, 3, 4, 5, 6`);
    await q.query(`
      INSERT INTO call_stats_hourly_totals (sdk_app_id, hour, calls, answered, missed, talk_seconds, talk_counted)
      SELECT sdk_app_id, hour, sum(calls), sum(answered), sum(missed), sum(talk_seconds), sum(talk_counted)
      FROM call_stats_hourly GROUP BY 1, 2`);
    await q.query(`ANALYZE call_stats_hourly`);
    await q.query(`ANALYZE call_stats_hourly_totals`);
  }

  /**
   * One trigger per event (transition tables allow one event per trigger). An update marks a row's old
   * and new hour only when something the rollup sums changed; ON CONFLICT DO UPDATE gives every mark a
   * new `seq`, which tells the refresher the hour changed again after it read it.
   */
  private async createTriggers(q: QueryRunner): Promise<void> {
    const mark = (select: string) => `
      INSERT INTO call_stats_dirty (sdk_app_id, hour)
      SELECT DISTINCT x.sdk_app_id, date_trunc('hour', x.started_at, 'UTC') FROM (${select}) AS x
      WHERE x.started_at IS NOT NULL
      ORDER BY 1, 2
      ON CONFLICT ON CONSTRAINT pk_call_stats_dirty DO UPDATE SET seq = EXCLUDED.seq;
      RETURN NULL;`;
    const summed = (t: string) => `(${t}.sdk_app_id, ${t}.started_at, ${t}.call_type, ${t}.media_type, ${t}.result, ${t}.status, ${t}.accepted_at IS NULL, ${t}.talk_seconds)`;
    await q.query(`CREATE FUNCTION call_stats_mark_inserted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ${mark('SELECT sdk_app_id, started_at FROM new_calls')} END $$`);
    await q.query(`CREATE FUNCTION call_stats_mark_deleted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ${mark('SELECT sdk_app_id, started_at FROM old_calls')} END $$`);
    await q.query(`
      CREATE FUNCTION call_stats_mark_updated() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ${mark(`
        SELECT v.sdk_app_id, v.started_at FROM old_calls o FULL JOIN new_calls n ON n.id = o.id
        CROSS JOIN LATERAL (VALUES (o.sdk_app_id, o.started_at), (n.sdk_app_id, n.started_at)) AS v(sdk_app_id, started_at)
        WHERE o.id IS NULL OR n.id IS NULL OR ${summed('o')} IS DISTINCT FROM ${summed('n')}`)} END $$`);
    // DELETE, not TRUNCATE: a stats read holding the rollup tables while it waits for `calls` must not deadlock with it.
    await q.query(`
      CREATE FUNCTION call_stats_truncated() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        DELETE FROM call_stats_hourly; DELETE FROM call_stats_hourly_totals; DELETE FROM call_stats_dirty; RETURN NULL;
      END $$`);
    await q.query(`CREATE TRIGGER tr_calls_stats_insert AFTER INSERT ON calls REFERENCING NEW TABLE AS new_calls FOR EACH STATEMENT EXECUTE FUNCTION call_stats_mark_inserted()`);
    await q.query(`CREATE TRIGGER tr_calls_stats_update AFTER UPDATE ON calls REFERENCING OLD TABLE AS old_calls NEW TABLE AS new_calls FOR EACH STATEMENT EXECUTE FUNCTION call_stats_mark_updated()`);
    await q.query(`CREATE TRIGGER tr_calls_stats_delete AFTER DELETE ON calls REFERENCING OLD TABLE AS old_calls FOR EACH STATEMENT EXECUTE FUNCTION call_stats_mark_deleted()`);
    await q.query(`CREATE TRIGGER tr_calls_stats_truncate AFTER TRUNCATE ON calls FOR EACH STATEMENT EXECUTE FUNCTION call_stats_truncated()`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['insert', 'update', 'delete', 'truncate']) await q.query(`DROP TRIGGER tr_calls_stats_${t} ON calls`);
    for (const f of ['mark_inserted', 'mark_updated', 'mark_deleted', 'truncated']) await q.query(`DROP FUNCTION call_stats_${f}()`);
    await q.query(`DROP TABLE call_stats_dirty`);
    await q.query(`DROP TABLE call_stats_hourly_totals`);
    await q.query(`DROP TABLE call_stats_hourly`);
  }
}
