import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `calls.first_event_at`: the earliest event time of the call's stored events (with `last_event_at`, the
 * latest). Ingest's refold reads a known call's events only within these times plus the batch's, so
 * PostgreSQL skips the partitions of `call_events` that cannot hold them (docs/architecture.md, Event
 * partitions). Null for calls stored before: their refold reads every partition up to `last_event_at`,
 * until `npm run rebuild-projection` or a new event of the call fills it.
 */
export class AddCallFirstEventAt1795810000000 implements MigrationInterface {
  name = 'AddCallFirstEventAt1795810000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE calls ADD COLUMN first_event_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE calls DROP COLUMN first_event_at`);
  }
}
