import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A refusal remembers whether its URL credentials (`token`, `Sign`, as configured when it arrived)
 * were valid. They are masked in the stored query string, so this is what lets a replay after a
 * configuration fix trust the callback without them. Null: not known (refusals kept before).
 */
export class AddQuarantineCredentials1795760000000 implements MigrationInterface {
  name = 'AddQuarantineCredentials1795760000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE rejected_callbacks ADD COLUMN credentials_ok boolean`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE rejected_callbacks DROP COLUMN credentials_ok`);
  }
}
