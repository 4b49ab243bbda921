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

it('reports a compiled page or call cut by the timeout as QUERY_TIMEOUT, without reading it a second time', async () => {
  const texts: string[] = [];
  const query = queries.query.bind(queries);
  queries.query = ((sql: string, params?: unknown[]) => {
    texts.push(sql);
    return query(sql, params);
  }) as DataSource['query'];
  const runner = db.ingestDataSource.createQueryRunner();
  await runner.connect();
  await runner.startTransaction();
  try {
    await runner.query('LOCK TABLE calls IN ACCESS EXCLUSIVE MODE');
    for (const [read, field] of [['{ calls(first: 5) { edges { cursor node { callId } } } }', 'calls'], ['{ call(callId: "c1") { callId participants { userId } } }', 'call']]) {
      texts.length = 0;
      const res = await gql(t.baseUrl, key, read);
      if (field === 'calls') expect(res.data).toBeNull();
      expect(res.errors).toEqual([expect.objectContaining({ path: [field], extensions: { code: 'QUERY_TIMEOUT' } })]);
      // The compiled statement timed out; the resolver reported its error instead of sending the read again.
      expect(texts.filter((s) => s.includes('FROM calls c'))).toHaveLength(1);
      expect(texts.filter((s) => / AS "[nk]0"/.test(s))).toHaveLength(1);
    }
    // A count alone: its error is totalCount's, and it is counted once.
    texts.length = 0;
    const counted = await gql(t.baseUrl, key, '{ calls(first: 5) { totalCount } }');
    expect(counted.errors).toEqual([expect.objectContaining({ path: ['calls', 'totalCount'], extensions: { code: 'QUERY_TIMEOUT' } })]);
    expect(texts.filter((s) => s.includes('count(*)'))).toHaveLength(1);
  } finally {
    await runner.rollbackTransaction();
    await runner.release();
    queries.query = query;
  }
  const after = await gql(t.baseUrl, key, '{ calls(first: 5) { edges { cursor } } }');
  expect(after).toEqual({ status: 200, data: { calls: { edges: [] } }, errors: undefined });
});
