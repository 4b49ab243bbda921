import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `event_retention_floor`: one row, the highest position of an event that retention deleted (with a
 * dropped partition, or a stray row of the default partition), raised in the same transaction as the
 * delete. Retention deletes only events below the lowest position it keeps, so every kept event is
 * above the floor and a cursor below it is one whose next events may be gone: reading or resuming after
 * it is refused with `CURSOR_EXPIRED` instead of silently skipping them (docs/api.md, Cursors and retention).
 * Reverting this migration forgets the floor: until retention deletes again, a cursor from before
 * earlier deletes is read on without a refusal.
 */
export class CreateEventRetentionFloor1795820000000 implements MigrationInterface {
  name = 'CreateEventRetentionFloor1795820000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE event_retention_floor (
        id         boolean     NOT NULL DEFAULT true,
        position   bigint      NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_event_retention_floor PRIMARY KEY (id),
        CONSTRAINT ck_event_retention_floor_one_row CHECK (id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE event_retention_floor`);
  }
}
