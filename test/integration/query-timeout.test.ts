import type { DataSource } from 'typeorm';
import { createDataSource } from '../../src/db/database';
import { startTestApp, type TestApp } from '../support/app';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { createKey, gql } from '../support/graphql';

let db: TestDatabase;
let queries: DataSource;
let t: TestApp;
let key: string;

beforeAll(async () => {
  db = await openTestDatabase();
  // The query pool as openDatabase makes it with DB_QUERY_TIMEOUT_MS=300 (the tests' own pools allow a minute).
  queries = createDataSource(db.url, { size: 4, statementTimeoutMs: 300, name: 'calltrail' });
  await queries.initialize();
  t = await startTestApp({ NODE_ENV: 'production', SDKAPPIDS: '1400000001' }, { ...db, dataSource: queries, readDataSource: queries });
  key = await createKey(db.dataSource, 'timeout', null);
});
afterAll(async () => {
  await t.stop();
  await queries.destroy();
  await db.drop();
});

it('answers a query cut by DB_QUERY_TIMEOUT_MS with QUERY_TIMEOUT and says what to do, not an internal error', async () => {
  const runner = db.ingestDataSource.createQueryRunner();
  await runner.connect();
  await runner.startTransaction();
  try {
    // Holds `calls` so the query's statement waits past its timeout.
    await runner.query('LOCK TABLE calls IN ACCESS EXCLUSIVE MODE');
    const res = await gql(t.baseUrl, key, '{ calls(first: 5) { totalCount } }');
    expect(res.errors).toEqual([
      expect.objectContaining({
        message: 'database: expected an answer within DB_QUERY_TIMEOUT_MS, got none (statement timeout); narrow the filter or time range, or retry',
        extensions: { code: 'QUERY_TIMEOUT' },
      }),
    ]);
  } finally {
    await runner.rollbackTransaction();
    await runner.release();
  }
  const after = await gql(t.baseUrl, key, '{ calls(first: 5) { totalCount } }');
  expect(after).toEqual({ status: 200, data: { calls: { totalCount: 0 } }, errors: undefined });
});
