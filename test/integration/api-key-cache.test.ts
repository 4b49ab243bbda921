import { ApiKeyRepository } from '../../src/api-keys/api-key.repository';
import { startTestApp, type TestApp } from '../support/app';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { createKey, gql } from '../support/graphql';

const A = '1400000001';
const query = '{ calls { totalCount } }';

/** Polls `check` every 50 ms until it returns true or `ms` pass; returns the time it took, or null. */
async function within(ms: number, check: () => Promise<boolean>): Promise<number | null> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await check()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 50));
  }
  return null;
}

const refused = async (t: TestApp, key: string) => (await gql(t.baseUrl, key, query)).errors?.[0]?.extensions?.code === 'UNAUTHENTICATED';

let db: TestDatabase;
let one: TestApp;
let two: TestApp;
let shortTtl: TestApp;

beforeAll(async () => {
  db = await openTestDatabase();
  // Two replicas on one database with the default cache (60 s), and one with a 1 s cache.
  one = await startTestApp({ LIVE_POLL_MS: '60000' }, db);
  two = await startTestApp({ LIVE_POLL_MS: '60000' }, db);
  shortTtl = await startTestApp({ LIVE_POLL_MS: '60000', API_KEY_CACHE_SECONDS: '1' }, db);
});
afterAll(async () => {
  for (const t of [one, two, shortTtl]) await t.stop();
  await db.drop();
});

describe('API key scopes cached per replica', () => {
  it('keeps serving a cached key without asking the database again within the cache time', async () => {
    const key = await createKey(db.dataSource, 'cached', [A]);
    expect((await gql(one.baseUrl, key, query)).data).toEqual({ calls: { totalCount: 0 } });
    // Gone from the table without a revocation notice: only the cache can still answer for it.
    await db.dataSource.query(`DELETE FROM api_keys WHERE name = 'cached'`);
    expect((await gql(one.baseUrl, key, query)).data).toEqual({ calls: { totalCount: 0 } });
    expect(await refused(two, key)).toBe(true); // never cached there
  });

  it('refuses a revoked key on every replica within a second, though their caches hold it for 60 s', async () => {
    const key = await createKey(db.dataSource, 'revoked-everywhere', [A]);
    for (const t of [one, two]) expect((await gql(t.baseUrl, key, query)).data).toEqual({ calls: { totalCount: 0 } });
    expect(await new ApiKeyRepository(db.dataSource).revoke('revoked-everywhere')).toBe(true);
    for (const t of [one, two]) expect(await within(1000, () => refused(t, key))).not.toBeNull();
  });

  it('refuses a key removed without notice once its cache time has passed', async () => {
    const key = await createKey(db.dataSource, 'silently-removed', [A]);
    expect((await gql(shortTtl.baseUrl, key, query)).data).toEqual({ calls: { totalCount: 0 } });
    await db.dataSource.query(`UPDATE api_keys SET revoked_at = now() WHERE name = 'silently-removed'`);
    const took = await within(3000, () => refused(shortTtl, key));
    expect(took).not.toBeNull();
  });

  it('revokes the old bootstrap key on every replica when BOOTSTRAP_API_KEY changes', async () => {
    const oldKey = 'ctk_bootstrap-old-0123456789abcdefghijklmnopqrstuvwx';
    const repo = new ApiKeyRepository(db.dataSource);
    await repo.ensure(oldKey, 'bootstrap');
    expect((await gql(two.baseUrl, oldKey, query)).data).toEqual({ calls: { totalCount: 0 } });
    await repo.ensure('ctk_bootstrap-new-0123456789abcdefghijklmnopqrstuvwx', 'bootstrap');
    expect(await within(1000, () => refused(two, oldKey))).not.toBeNull();
  });
});
