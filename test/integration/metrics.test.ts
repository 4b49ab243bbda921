import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { QueryRunner } from 'typeorm';
import { clockOffsetSeconds } from '../../src/db/clock';
import { startTestApp, type TestApp } from '../support/app';
import { makeCallback, postCallback, SDKAPPID } from '../support/callbacks';
import { createKey, gql } from '../support/graphql';
import { scrape, scrapeUntil } from '../support/metrics';

let t: TestApp;
let key: string;
beforeAll(async () => {
  t = await startTestApp({ SDKAPPIDS: SDKAPPID });
  key = await createKey(t.db.dataSource, 'metrics', null);
});
afterAll(() => t?.stop());

const CALLBACKS = 'calltrail_callbacks_total';
const HTTP = 'calltrail_http_request_duration_seconds_count';
const GRAPHQL = 'calltrail_graphql_operation_seconds_count';
const ERRORS = 'calltrail_graphql_errors_total';

/** The PromQL expressions of the Grafana dashboard and of the alert rules in docs/operations.md. */
function documentedExpressions(): string[] {
  const dashboard = JSON.parse(readFileSync(join(__dirname, '../../docs/grafana-dashboard.json'), 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  const operations = readFileSync(join(__dirname, '../../docs/operations.md'), 'utf8');
  const rules = [...operations.matchAll(/^\s+expr: (.+)$/gm)].map((m) => m[1]);
  return [...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)), ...rules];
}

describe('/metrics', () => {
  it('counts callbacks by outcome, times the callback route by its pattern, and counts refusals kept and only counted', async () => {
    const before = await scrape(t.baseUrl);
    const body = makeCallback({ CallId: 'metrics-1' });
    expect((await postCallback(t.baseUrl, body)).status).toBe(200);
    expect((await postCallback(t.baseUrl, body)).status).toBe(200);
    expect((await postCallback(t.baseUrl, makeCallback({ CallId: 'metrics-2' }), { sdkAppId: '999' })).status).toBe(403); // looks like a callback: kept
    expect((await postCallback(t.baseUrl, makeCallback(), { sdkAppId: '999', rawBody: 'not a callback' })).status).toBe(403); // only counted
    const after = await scrapeUntil(t.baseUrl, (s) => s.value('calltrail_quarantine_rows') > before.value('calltrail_quarantine_rows'));

    const moved = (name: string, labels: Record<string, string> = {}) => after.value(name, labels) - before.value(name, labels);
    expect(moved(CALLBACKS, { outcome: 'stored' })).toBe(1);
    expect(moved(CALLBACKS, { outcome: 'duplicate' })).toBe(1);
    expect(moved(CALLBACKS, { outcome: 'UNKNOWN_APP' })).toBe(2);
    expect(moved('calltrail_quarantine_refusals_total', { kept: 'kept' })).toBe(1);
    expect(moved('calltrail_quarantine_refusals_total', { kept: 'counted' })).toBe(1);
    expect(moved('calltrail_quarantine_rows')).toBe(1);
    expect(after.value('calltrail_quarantine_bytes')).toBeGreaterThan(0);
    expect(moved(HTTP, { method: 'POST', route: '/callback', status_code: '200' })).toBe(2);
    expect(moved(HTTP, { method: 'POST', route: '/callback', status_code: '403' })).toBe(2);
    expect(moved('calltrail_ingest_batch_seconds_count')).toBeGreaterThanOrEqual(1);
    // The route pattern, never the URL with its query string.
    expect(after.samples.filter((s) => s.name === HTTP && s.labels.route.includes('?'))).toEqual([]);
  });

  it('labels a request no route matches as unmatched', async () => {
    const before = await scrape(t.baseUrl);
    expect((await fetch(`${t.baseUrl}/no/such/path/12345`)).status).toBe(404);
    const after = await scrape(t.baseUrl);
    const labels = { method: 'GET', route: 'unmatched', status_code: '404' };
    expect(after.value(HTTP, labels) - before.value(HTTP, labels)).toBe(1);
  });

  it('times GraphQL operations by name and counts errors by operation and extensions.code', async () => {
    const before = await scrape(t.baseUrl);
    expect((await gql(t.baseUrl, key, 'query RecentCalls { calls(first: 1) { totalCount } }')).errors).toBeUndefined();
    expect((await gql(t.baseUrl, key, '{ calls(first: 1) { totalCount } }')).errors).toBeUndefined();
    expect((await gql(t.baseUrl, key, 'query Stats { callStats(interval: DAY, timeZone: "Mars/Olympus") { calls } }')).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect((await gql(t.baseUrl, key, 'query Broken { noSuchField }')).errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect((await gql(t.baseUrl, null, 'query RecentCalls { calls(first: 1) { totalCount } }')).errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    const after = await scrape(t.baseUrl);

    const moved = (name: string, labels: Record<string, string>) => after.value(name, labels) - before.value(name, labels);
    expect(moved(GRAPHQL, { operation: 'RecentCalls' })).toBe(1);
    expect(moved(GRAPHQL, { operation: 'anonymous' })).toBe(1);
    expect(moved(GRAPHQL, { operation: 'Stats' })).toBe(1);
    expect(moved(ERRORS, { operation: 'Stats', code: 'BAD_USER_INPUT' })).toBe(1);
    expect(moved(ERRORS, { operation: 'unknown', code: 'GRAPHQL_VALIDATION_FAILED' })).toBe(1);
    expect(moved(ERRORS, { operation: 'unknown', code: 'UNAUTHENTICATED' })).toBe(1);
    expect(moved(ERRORS, { operation: 'RecentCalls' })).toBe(0);
    expect(moved(HTTP, { method: 'POST', route: '/graphql', status_code: '200' })).toBe(3); // a resolver's error is answered 200
    expect(moved(HTTP, { method: 'POST', route: '/graphql', status_code: '400' })).toBe(1);
  });

  it('keeps at most 100 operation names as labels and counts the rest as other', async () => {
    for (let i = 0; i < 110; i++) expect((await gql(t.baseUrl, key, `query Many${i} { calls(first: 1) { totalCount } }`)).status).toBe(200);
    const after = await scrape(t.baseUrl);
    const names = new Set(after.samples.filter((s) => s.name === GRAPHQL).map((s) => s.labels.operation));
    for (const fallback of ['anonymous', 'unknown', 'other']) names.delete(fallback);
    expect(names.size).toBe(100);
    expect(after.value(GRAPHQL, { operation: 'other' })).toBeGreaterThanOrEqual(10);
  });

  it('shows the connections of each pool in use, idle and waiting', async () => {
    const before = await scrape(t.baseUrl);
    expect(before.value('calltrail_db_pool_max', { pool: 'quarantine' })).toBe(4);
    expect(before.value('calltrail_db_pool_max', { pool: 'query' })).toBe(10);
    expect(before.value('calltrail_db_pool_in_use', { pool: 'quarantine' })).toBe(0);
    const held: QueryRunner[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const runner = t.db.ingestDataSource.createQueryRunner();
        await runner.connect();
        held.push(runner);
      }
      const waiting = t.db.ingestDataSource.query('SELECT 1').catch(() => undefined); // a fifth: waits for one of the four
      const during = await scrape(t.baseUrl);
      expect(during.value('calltrail_db_pool_in_use', { pool: 'quarantine' })).toBe(4);
      expect(during.value('calltrail_db_pool_waiting', { pool: 'quarantine' })).toBe(1);
      await held.pop()!.release();
      await waiting;
    } finally {
      for (const runner of held) await runner.release();
    }
    const after = await scrape(t.baseUrl);
    expect(after.value('calltrail_db_pool_in_use', { pool: 'quarantine' })).toBe(0);
    expect(after.value('calltrail_db_pool_waiting', { pool: 'quarantine' })).toBe(0);
    expect(after.value('calltrail_db_pool_idle', { pool: 'quarantine' })).toBeGreaterThanOrEqual(1);
  });

  it("shows the ingest thread's pool, where batches are written: a connection idle once a callback is stored", async () => {
    expect((await postCallback(t.baseUrl, makeCallback({ CallId: 'metrics-pool' }))).status).toBe(200);
    const after = await scrape(t.baseUrl);
    expect(after.value('calltrail_db_pool_max', { pool: 'ingest' })).toBe(4);
    expect(after.value('calltrail_db_pool_in_use', { pool: 'ingest' })).toBe(0);
    expect(after.value('calltrail_db_pool_idle', { pool: 'ingest' })).toBeGreaterThanOrEqual(1);
  });

  it("shows what the ingest thread's fold cache holds once a call is large", async () => {
    expect((await scrape(t.baseUrl)).value('calltrail_ingest_fold_cache_events')).toBe(0);
    const now = Math.floor(Date.now() / 1000) - 60; // the cache keeps only calls of the last day
    const g = { CallId: 'metrics-group', CallType: 'group', TotalNum: 71, EventTime: now };
    const callbacks = [
      makeCallback({ ...g, Event: 'start_call' }),
      ...Array.from({ length: 70 }, (_, i) => makeCallback({ ...g, UserId: `m${i}`, Role: 'callee', Event: 'receive_call' })),
    ];
    for (const r of await Promise.all(callbacks.map((c) => postCallback(t.baseUrl, c)))) expect(r.status).toBe(200);
    const after = await scrape(t.baseUrl);
    expect(after.value('calltrail_ingest_fold_cache_calls')).toBe(1);
    expect(after.value('calltrail_ingest_fold_cache_events')).toBe(71);
  });

  it('exports every series the Grafana dashboard and the alert rules of docs/operations.md use', async () => {
    const expressions = documentedExpressions();
    expect(expressions.length).toBeGreaterThan(30);
    const used = new Set(expressions.flatMap((e) => [...e.matchAll(/\bcalltrail_[a-z0-9_]+/g)].map((m) => m[0])));
    const exported = new Set((await scrape(t.baseUrl)).samples.map((s) => s.name));
    expect([...used].filter((name) => !exported.has(name))).toEqual([]);
  });

  it("shows how far PostgreSQL's clock is from this server's", async () => {
    const offset = (await scrape(t.baseUrl)).value('calltrail_clock_offset_seconds');
    expect(Number.isFinite(offset) && Math.abs(offset) < 2).toBe(true);
    // A server clock an hour behind PostgreSQL's, then a day ahead of it.
    expect(await clockOffsetSeconds(t.db.dataSource, () => Date.now() - 3_600_000)).toBeCloseTo(3_600, -1);
    expect(await clockOffsetSeconds(t.db.dataSource, () => Date.now() + 86_400_000)).toBeCloseTo(-86_400, -1);
  });

  it('reports readiness, and the positions the live hub has not read yet once it stops reading', async () => {
    const ready = await scrapeUntil(t.baseUrl, (s) => s.value('calltrail_ready') === 1);
    expect(ready.value('calltrail_database_ready')).toBe(1);
    expect(ready.value('calltrail_live_lag_positions')).toBe(0);
    expect(ready.has('calltrail_live_queue_depth_max')).toBe(true);
    await t.app.hub.stop();
    for (let i = 0; i < 3; i++) expect((await postCallback(t.baseUrl, makeCallback({ CallId: `lag-${i}` }))).status).toBe(200);
    const behind = await scrapeUntil(t.baseUrl, (s) => s.value('calltrail_live_lag_positions') >= 3);
    expect(behind.value('calltrail_live_lag_positions')).toBeGreaterThanOrEqual(3);
  });
});
