import { createHash, randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ALL_APPS, type AppScope } from '../domain/app-scope';

/** A stored key, never with its secret. */
export interface ApiKeyRecord {
  readonly id: string;
  readonly name: string;
  /** `null`: every app. */
  readonly sdkAppIds: readonly string[] | null;
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
  readonly lastUsedAt: Date | null;
}

/** Keys carry 256 random bits, so a plain SHA-256 is enough to store them (no password stretching needed). */
export const hashApiKey = (key: string): string => createHash('sha256').update(key).digest('hex');

/** A new random key: `ctk_` and 43 base64url characters. */
export const generateApiKey = (): string => `ctk_${randomBytes(32).toString('base64url')}`;

export const scopeOf = (sdkAppIds: readonly string[] | null): AppScope =>
  sdkAppIds === null ? ALL_APPS : Object.freeze({ all: false, apps: Object.freeze([...sdkAppIds]) });

/** Channel on which a revocation names the key's hash, so every replica forgets it at once. */
export const API_KEYS_CHANNEL = 'calltrail_api_keys';

const COLUMNS = `id::text AS id, name, sdk_app_ids AS "sdkAppIds", created_at AS "createdAt", revoked_at AS "revokedAt", last_used_at AS "lastUsedAt"`;

/** The one door to `api_keys`. */
export class ApiKeyRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Stores a new key; returns the secret, shown once. Names are unique among active keys. */
  async create(name: string, sdkAppIds: readonly string[] | null): Promise<{ key: string; record: ApiKeyRecord }> {
    const key = generateApiKey();
    const [record]: ApiKeyRecord[] = await this.dataSource.query(
      `INSERT INTO api_keys (name, key_hash, sdk_app_ids) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`,
      [name, hashApiKey(key), sdkAppIds],
    );
    return { key, record };
  }

  /**
   * Makes sure `key` is the one active key called `name`, with every app (`BOOTSTRAP_API_KEY`): a
   * previous key of that name (the bootstrap key before it was changed) is revoked.
   */
  async ensure(key: string, name: string): Promise<void> {
    await this.dataSource.transaction(async (tx) => {
      const hash = hashApiKey(key);
      await tx.query(
        `WITH r AS (UPDATE api_keys SET revoked_at = now() WHERE name = $1 AND key_hash <> $2 AND revoked_at IS NULL RETURNING key_hash)
         SELECT pg_notify($3, key_hash) FROM r`,
        [name, hash, API_KEYS_CHANNEL],
      );
      await tx.query(
        `INSERT INTO api_keys (name, key_hash, sdk_app_ids) VALUES ($1, $2, NULL)
         ON CONFLICT ON CONSTRAINT uq_api_keys_hash DO UPDATE SET name = EXCLUDED.name, sdk_app_ids = NULL, revoked_at = NULL`,
        [name, hash],
      );
    });
  }

  async list(): Promise<ApiKeyRecord[]> {
    return this.dataSource.query(`SELECT ${COLUMNS} FROM api_keys ORDER BY revoked_at IS NOT NULL, name, id`);
  }

  /** Revokes the active key called `name`; false when there is none. */
  async revoke(name: string): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query(
      `WITH r AS (UPDATE api_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL RETURNING key_hash)
       SELECT pg_notify($2, key_hash) FROM r`,
      [name, API_KEYS_CHANNEL],
    );
    return rows.length > 0;
  }

  /**
   * The scope of an active key, or null. Records the use at most once a minute per key, in the
   * same statement, so authentication stays one round trip.
   */
  authenticate(key: string): Promise<AppScope | null> {
    return this.authenticateHash(hashApiKey(key));
  }

  /** `authenticate` for a key already hashed. */
  async authenticateHash(hash: string): Promise<AppScope | null> {
    const rows: { sdkAppIds: string[] | null }[] = await this.dataSource.query(
      `WITH k AS (SELECT id, sdk_app_ids, last_used_at FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL),
            touch AS (UPDATE api_keys SET last_used_at = now() FROM k
                      WHERE api_keys.id = k.id AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute'))
       SELECT sdk_app_ids AS "sdkAppIds" FROM k`,
      [hash],
    );
    return rows.length === 0 ? null : scopeOf(rows[0].sdkAppIds);
  }
}
