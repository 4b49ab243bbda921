import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestApp, type TestApp } from '../support/app';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { gql } from '../support/graphql';

const BOOTSTRAP = 'bootstrap-key-0123456789abcdef';
let db: TestDatabase;
let prod: TestApp;
let dev: TestApp;

beforeAll(async () => {
  db = await openTestDatabase();
  prod = await startTestApp({ NODE_ENV: 'production', SDKAPPIDS: '1400000001', BOOTSTRAP_API_KEY: BOOTSTRAP }, db);
  dev = await startTestApp({ NODE_ENV: 'development', BOOTSTRAP_API_KEY: BOOTSTRAP }, db);
});
afterAll(async () => {
  await prod.stop();
  await dev.stop();
  await db.drop();
});

describe('BOOTSTRAP_API_KEY', () => {
  it('makes sure a key with that value and every app exists, once', async () => {
    expect((await gql(prod.baseUrl, BOOTSTRAP, '{ calls { totalCount } }')).data).toEqual({ calls: { totalCount: 0 } });
    expect(await db.dataSource.query(`SELECT name, sdk_app_ids FROM api_keys`)).toEqual([{ name: 'bootstrap', sdk_app_ids: null }]);
  });
});

describe('production mode', () => {
  it('turns introspection off', async () => {
    const res = await gql(prod.baseUrl, BOOTSTRAP, '{ __schema { types { name } } }');
    expect(res.errors?.[0].message).toMatch(/introspection/i);
  });

  it('gives no field suggestions', async () => {
    const res = await gql(prod.baseUrl, BOOTSTRAP, '{ calls { totalCont } }');
    expect(res.errors?.[0].message).not.toMatch(/did you mean/i);
    const devRes = await gql(dev.baseUrl, BOOTSTRAP, '{ calls { totalCont } }');
    expect(devRes.errors?.[0].message).toMatch(/did you mean/i);
  });

  it('serves no landing page, while development serves Apollo Sandbox', async () => {
    const page = (url: string) => fetch(`${url}/graphql`, { headers: { accept: 'text/html' } });
    const prodPage = await page(prod.baseUrl);
    expect(prodPage.headers.get('content-type') ?? '').not.toContain('text/html');
    const devPage = await page(dev.baseUrl);
    expect(devPage.status).toBe(200);
    expect(await devPage.text()).toMatch(/sandbox/i);
  });
});

describe('CSRF prevention', () => {
  it('refuses a simple cross-site GET query without a preflight header', async () => {
    const res = await fetch(`${dev.baseUrl}/graphql?query=${encodeURIComponent('{ calls { totalCount } }')}`, { headers: { authorization: `Bearer ${BOOTSTRAP}` } });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/CSRF/);
  });
});

describe('npm run apikey', () => {
  const cli = (args: string[]) =>
    promisify(execFile)(process.execPath, [require.resolve('tsx/cli'), 'src/cli/apikey.cli.ts', ...args], {
      env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'silent' },
    });

  it('creates a scoped key (printing only the key), lists it and revokes it', async () => {
    const created = await cli(['create', '--name', 'console', '--apps', '1400000001,1400000002']);
    expect(created.stdout).toMatch(/^ctk_[A-Za-z0-9_-]{43}\n$/);
    const key = created.stdout.trim();
    const ok = await gql(dev.baseUrl, key, '{ calls { totalCount } }');
    expect(ok.data).toEqual({ calls: { totalCount: 0 } });
    const listed = await cli(['list']);
    expect(listed.stdout).toMatch(/^console\tapps=1400000001,1400000002\tactive\tlast used 20/m);
    expect(listed.stdout).not.toContain(key);
    await cli(['revoke', 'console']);
    expect((await gql(dev.baseUrl, key, '{ calls { totalCount } }')).errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  }, 30000);

  it('explains a bad --apps value', async () => {
    await expect(cli(['create', '--name', 'x', '--apps', 'abc'])).rejects.toMatchObject({ stderr: expect.stringContaining('--apps: expected comma-separated numeric SDKAppIDs, got "abc"') });
  }, 30000);
});
