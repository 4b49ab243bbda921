import type { MigrationInterface, QueryRunner } from 'typeorm';

/** API keys: stored as SHA-256 hashes, scoped to SDKAppIDs (NULL = all apps), revocable. */
export class CreateApiKeys1795649600000 implements MigrationInterface {
  name = 'CreateApiKeys1795649600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE api_keys (
        id           bigserial    NOT NULL,
        name         text         NOT NULL,
        key_hash     text         NOT NULL,
        sdk_app_ids  text[],
        created_at   timestamptz  NOT NULL DEFAULT now(),
        revoked_at   timestamptz,
        last_used_at timestamptz,
        CONSTRAINT pk_api_keys PRIMARY KEY (id),
        CONSTRAINT uq_api_keys_hash UNIQUE (key_hash)
      )`);
    await q.query(`CREATE UNIQUE INDEX uq_api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE api_keys`);
  }
}
