import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A bounded quarantine: refusals kept whole record their source address and how their body is
 * encoded (base64 when PostgreSQL text cannot hold it); everything past the bounds is only counted,
 * per day, refusal code and source.
 */
export class BoundQuarantine1795700000000 implements MigrationInterface {
  name = 'BoundQuarantine1795700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE rejected_callbacks ADD COLUMN body_encoding text NOT NULL DEFAULT 'utf8', ADD COLUMN source text`);
    await q.query(`
      CREATE TABLE rejected_callback_counts (
        day          date         NOT NULL,
        error_code   text         NOT NULL,
        source       text         NOT NULL,
        times        bigint       NOT NULL,
        bytes        bigint       NOT NULL,
        last_seen_at timestamptz  NOT NULL,
        CONSTRAINT pk_rejected_callback_counts PRIMARY KEY (day, error_code, source)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE rejected_callback_counts`);
    await q.query(`ALTER TABLE rejected_callbacks DROP COLUMN body_encoding, DROP COLUMN source`);
  }
}
