import { Client } from 'pg';
import { scopeOf } from '../../src/api-keys/api-key.repository';
import { REFRESH_LOCK, StatsRollupRepository } from '../../src/calls/stats-rollup.repository';
import { StatsRepository } from '../../src/calls/stats.repository';
import { ALL_APPS, type AppScope } from '../../src/domain/app-scope';
import { STATS_MEASURES, type StatsRequest } from '../../src/domain/stats-plan';
import { startTestApp, type TestApp } from '../support/app';
import { postCallback } from '../support/callbacks';
import { callEvents, type CallSpec } from '../support/dataset';
import { createKey, gql } from '../support/graphql';
import { rollupDrift } from '../support/stats';

const [A, B] = ['1400000001', '1400000002'];
const T = 1_710_028_800; // 2024-03-10T00:00:00Z

let t: TestApp;
let rollup: StatsRollupRepository;
/** A session of the test's own: holding REFRESH_LOCK keeps the server's refresher from running. */
let holder: Client;

beforeAll(async () => {
  t = await startTestApp({ STATS_ROLLUP_INTERVAL_MS: '100' });
  rollup = new StatsRollupRepository(t.db.dataSource);
  holder = new Client({ connectionString: t.db.url });
  await holder.connect();
});
afterAll(async () => {
  await holder.end();
  await t.stop();
});

const q = <T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> => t.db.dataSource.query(sql, params);
const holdRefresher = () => holder.query('SELECT pg_advisory_lock($1)', [REFRESH_LOCK]);
const releaseRefresher = () => holder.query('SELECT pg_advisory_unlock($1)', [REFRESH_LOCK]);

async function post(app: string, specs: CallSpec[]): Promise<void> {
  for (const body of specs.flatMap(callEvents)) expect((await postCallback(t.baseUrl, body, { sdkAppId: app })).status).toBe(200);
}

/** The (app, hour) pairs of stored calls, and of the marks; as sorted text. */
const callHours = async () => (await q<{ k: string }>(`SELECT DISTINCT sdk_app_id || ' ' || date_trunc('hour', started_at, 'UTC') AS k FROM calls ORDER BY 1`)).map((r) => r.k);
const markedHours = async () => (await q<{ k: string }>(`SELECT sdk_app_id || ' ' || hour AS k FROM call_stats_dirty ORDER BY 1`)).map((r) => r.k);

async function waitUntilClean(): Promise<void> {
  for (let i = 0; i < 100 && (await rollup.dirtyHours()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
  expect(await rollup.dirtyHours()).toBe(0);
}

const STATS = `query($f: CallFilter, $g: [CallStatsDimension!], $i: StatsInterval, $tz: String) {
  callStats(filter: $f, groupBy: $g, interval: $i, timeZone: $tz) { bucket mediaType callType result status calls answered answerRate missed totalTalkSeconds avgTalkSeconds } }`;
const MEASURES = STATS_MEASURES.filter((m) => !m.startsWith('p'));

/** The same request through GraphQL with `key`, and through the repository over raw calls with `scope`. */
async function viaGraphQLAndRaw(key: string, scope: AppScope, request: Omit<StatsRequest, 'measures'>) {
  const res = await gql(t.baseUrl, key, STATS, { f: request.filter, g: request.groupBy, i: request.interval, tz: request.timeZone });
  expect(res.errors).toBeUndefined();
  const raw = await new StatsRepository(t.db.dataSource, false).callStats(scope, { ...request, measures: MEASURES });
  return { served: res.data!.callStats, raw: raw.map((r) => ({ ...r, bucket: r.bucket?.toISOString() ?? null })) };
}

describe('keeping the rollup fresh through ingest', () => {
  it('marks the hours a callback touches, and the refresher then makes the rollup equal to raw calls', async () => {
    const keyAll = await createKey(t.db.dataSource, 'all', null);
    await holdRefresher();
    await post(A, [
      { callId: 'r1', caller: 'Alice', callees: ['Bob'], start: T + 600, outcome: 'answered', talk: 75 },
      { callId: 'r2', caller: 'Carol', callees: ['Dan'], media: 'video', start: T + 4000, outcome: 'missed' },
      { callId: 'r3', caller: 'Erin', callees: ['Bob'], start: T + 90_000, outcome: 'ongoing' },
    ]);
    await post(B, [{ callId: 'r1', caller: 'Zed', callees: ['Yan'], start: T + 700, outcome: 'rejected' }]);
    expect(await markedHours()).toEqual(await callHours());
    const request = { groupBy: ['MEDIA_TYPE', 'STATUS'] as const, interval: 'DAY' as const, timeZone: 'Asia/Shanghai' };
    const dirty = await viaGraphQLAndRaw(keyAll, ALL_APPS, { ...request, groupBy: [...request.groupBy] });
    expect(dirty.served).toEqual(dirty.raw);

    await releaseRefresher();
    await waitUntilClean();
    expect(await rollupDrift(t.db.dataSource)).toEqual([]);

    await holdRefresher();
    // The ongoing call ends: its hour is marked again and the rollup row it had is stale until refreshed.
    await post(A, [{ callId: 'r3', caller: 'Erin', callees: ['Bob'], start: T + 90_000, outcome: 'answered', talk: 30 }]);
    expect(await markedHours()).toEqual([`${A} ${(await q<{ h: string }>(`SELECT date_trunc('hour', started_at, 'UTC')::text AS h FROM calls WHERE call_id = 'r3'`))[0].h}`]);
    expect(await rollupDrift(t.db.dataSource)).not.toEqual([]);
    const stale = await viaGraphQLAndRaw(keyAll, ALL_APPS, { ...request, groupBy: [...request.groupBy] });
    expect(stale.served).toEqual(stale.raw);

    await releaseRefresher();
    await waitUntilClean();
    expect(await rollupDrift(t.db.dataSource)).toEqual([]);
    const clean = await viaGraphQLAndRaw(keyAll, ALL_APPS, { ...request, groupBy: [...request.groupBy] });
    expect(clean.served).toEqual(clean.raw);
  }, 30000);

  it('never shows a key scoped to app A the rollup rows of app B', async () => {
    await waitUntilClean();
    const keyA = await createKey(t.db.dataSource, 'only-a', [A]);
    const appA = scopeOf([A]);
    const base = { groupBy: [], interval: 'DAY' as const, timeZone: 'UTC' };
    const all = await viaGraphQLAndRaw(keyA, appA, { ...base, filter: {} });
    expect(all.served).toEqual(all.raw);
    const [{ n }] = await q<{ n: number }>('SELECT count(*)::int AS n FROM calls WHERE sdk_app_id = $1', [A]);
    expect(all.served.reduce((sum: number, r: { calls: number }) => sum + r.calls, 0)).toBe(n);
    const [{ rows }] = await q<{ rows: number }>('SELECT count(*)::int AS rows FROM call_stats_hourly WHERE sdk_app_id = $1', [B]);
    expect(rows).toBeGreaterThan(0);
    const asked = await gql(t.baseUrl, keyA, STATS, { f: { sdkAppId: B } });
    expect(asked.errors).toBeUndefined();
    expect(asked.data!.callStats).toEqual([]);
  });
});
