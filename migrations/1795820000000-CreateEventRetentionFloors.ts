import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `event_retention_floors`: per app, the highest position of an event that retention deleted (a dropped
 * partition, or a stray row of the default partition), written in the same transaction as the delete.
 * A cursor below its app's floor may be missing events for good: a read or a resume after it is refused
 * with `CURSOR_EXPIRED` instead of silently skipping them (docs/api.md, Cursors and retention).
 */
export class CreateEventRetentionFloors1795820000000 implements MigrationInterface {
  name = 'CreateEventRetentionFloors1795820000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE event_retention_floors (
        sdk_app_id text        NOT NULL,
        position   bigint      NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_event_retention_floors PRIMARY KEY (sdk_app_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE event_retention_floors`);
  }
}
