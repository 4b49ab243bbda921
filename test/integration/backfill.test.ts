import { loadConfig } from '../../src/config';
import { createBackfill } from '../../src/records/backfill.assembly';
import type { BackfillService, PullSummary } from '../../src/records/backfill.service';
import { RateLimiter } from '../../src/records/rate-limiter';
import { RecordsClient } from '../../src/records/records.client';
import { openTestDatabase, truncateAll, type TestDatabase } from '../support/database';
import { FakeRecordsApi, type FakeApp } from '../support/fake-records-api';
import { spreadCalls, trtcApps, V1_APP, v1Record, V4_APP, v4Record } from '../support/records';

const LIMIT = 20;
let db: TestDatabase;
let api: FakeRecordsApi;
beforeAll(async () => {
  db = await openTestDatabase();
  api = await new FakeRecordsApi([V4_APP, V1_APP], LIMIT).start();
});
afterAll(async () => {
  await api.stop();
  await db.drop();
});
beforeEach(async () => {
  await truncateAll(db.dataSource);
  api.reset();
});

const now = () => Math.floor(Date.now() / 1000);
const q = <T = Record<string, any>>(sql: string, params: unknown[] = []): Promise<T[]> => db.dataSource.query(sql, params);
/** The backfill as the CLI builds it, against the fake API; quick backoff unless told. */
const backfill = (apps: readonly FakeApp[] = [V4_APP, V1_APP], options: Parameters<typeof createBackfill>[2] = { backoffMs: 20 }, rps = LIMIT): BackfillService =>
  createBackfill(loadConfig({ TRTC_APPS: trtcApps(apps, rps), TRTC_API_BASE: api.baseUrl }), db.ingestDataSource, options);
const lastWeek = (b: BackfillService) => b.clampWindow(now() - 8 * 86400, now()).window;

describe('backfill from the records API', () => {
  it('stores a 7-day window of 10,000 records over 100 pages, each call once, within the rate limit; a second run stores nothing new', async () => {
    const specs = spreadCalls(10_000, now());
    api.setRecords(V4_APP.sdkAppId, specs.map(v4Record));
    const b = backfill();
    const first = await b.pull(V4_APP.sdkAppId, lastWeek(b));
    expect(first).toMatchObject({ pages: 100, recordsSeen: 10_000, callsNew: 10_000, callsKnown: 0, recordsRefused: 0 });
    expect(api.maxPerSecond(V4_APP.sdkAppId)).toBeLessThanOrEqual(LIMIT);
    expect(api.rateLimited).toBe(0);
    expect(new Set(api.arrivals.map((a) => a.page)).size).toBe(100);

    const calls = await q(`SELECT call_id, caller_id, call_type, media_type, status, result, participant_count,
      extract(epoch FROM started_at)::int AS s, extract(epoch FROM accepted_at)::int AS a, extract(epoch FROM ended_at)::int AS e FROM calls`);
    expect(calls).toHaveLength(10_000);
    const byId = new Map(calls.map((c) => [c.call_id, c]));
    const results = { answered: 'NORMAL_END', rejected: 'REJECT', missed: 'NOT_ANSWER', canceled: 'CANCEL' };
    for (const s of specs) {
      const r = v4Record(s);
      expect(byId.get(s.callId)).toEqual({
        call_id: s.callId, caller_id: s.caller, call_type: 'SINGLE', media_type: s.media === 'video' ? 'VIDEO' : 'AUDIO', status: 'ENDED',
        result: results[s.outcome!], participant_count: 2, s: r.StartTime, a: r.AcceptTime === 0 ? null : r.AcceptTime, e: r.EndTime,
      });
    }
    const events = await q(`SELECT count(*)::int AS n FROM call_events`);

    const second = await b.pull(V4_APP.sdkAppId, lastWeek(b));
    expect(second).toMatchObject({ recordsSeen: 10_000, callsNew: 0, callsKnown: 10_000 });
    expect(await q(`SELECT count(*)::int AS n FROM call_events`)).toEqual(events);
    expect(api.maxPerSecond(V4_APP.sdkAppId)).toBeLessThanOrEqual(LIMIT);
  }, 120_000);

  it("is answered Tencent's rate-limit error when a client goes above the limit, and gets every page by retrying", async () => {
    api.setRecords(V4_APP.sdkAppId, spreadCalls(4000, now(), 'fast').map(v4Record));
    const [app] = loadConfig({ TRTC_APPS: trtcApps([V4_APP], 200) }).trtcApps;
    const client = new RecordsClient(app, { apiBase: api.baseUrl, global: new RateLimiter(200), backoffMs: 20 });
    const window = { since: now() - 7 * 86400 + 600, until: now() };
    const pages = await Promise.all(Array.from({ length: 40 }, (_, i) => client.fetchPage(window, i + 1)));
    expect(api.rateLimited).toBeGreaterThan(0);
    expect(pages.flatMap((p) => p.records.map((r) => (r as { CallId: string }).CallId))).toEqual(Array.from({ length: 4000 }, (_, i) => `fast-${i}`));
  }, 60_000);

  it("reads a v1 app's records (lowercase values) into the same calls a v4 app's would give", async () => {
    const specs = spreadCalls(250, now(), 'v1call');
    api.setRecords(V1_APP.sdkAppId, specs.map(v1Record));
    api.setRecords(V4_APP.sdkAppId, specs.map(v4Record));
    const b = backfill();
    expect(await b.pull(V1_APP.sdkAppId, lastWeek(b))).toMatchObject({ pages: 3, recordsSeen: 250, callsNew: 250 });
    expect(await b.pull(V4_APP.sdkAppId, lastWeek(b))).toMatchObject({ pages: 3, recordsSeen: 250, callsNew: 250 });
    const calls = (app: string) =>
      q(`SELECT call_id, caller_id, call_type, media_type, status, result, started_at, accepted_at, ended_at, ring_seconds, talk_seconds FROM calls WHERE sdk_app_id = $1 ORDER BY call_id`, [app]);
    expect(await calls(V1_APP.sdkAppId)).toEqual(await calls(V4_APP.sdkAppId));
    expect(await q(`SELECT DISTINCT command FROM call_events WHERE sdk_app_id = $1`, [V1_APP.sdkAppId])).toEqual([{ command: 'v1/records/get_records_by_filter' }]);
  });

  it('pulls only the window asked for, and never before the 7 days Tencent keeps', async () => {
    const t = now();
    api.setRecords(V4_APP.sdkAppId, [
      v4Record({ callId: 'too-old', start: t - 8 * 86400 }),
      v4Record({ callId: 'before', start: t - 3 * 86400 }),
      v4Record({ callId: 'inside', start: t - 2 * 86400 }),
      v4Record({ callId: 'after', start: t - 86400 }),
    ]);
    const b = backfill();
    const { window, clamped } = b.clampWindow(t - 10 * 86400, t);
    expect(clamped).toBe(true);
    expect(window.since).toBe(t - 7 * 86400 + 600);
    await b.pull(V4_APP.sdkAppId, { since: t - 2 * 86400 - 60, until: t - 2 * 86400 + 60 });
    expect(await q(`SELECT call_id FROM calls`)).toEqual([{ call_id: 'inside' }]);
  });

  it('counts records it cannot read as refused, names them, and stores the others', async () => {
    const t = now() - 3600;
    api.setRecords(V4_APP.sdkAppId, [v4Record({ callId: 'good', start: t }), { ...v4Record({ callId: 'bad', start: t + 1 }), Caller_Account: '' }]);
    const refused: string[] = [];
    const b = backfill();
    const summary: PullSummary = await b.pull(V4_APP.sdkAppId, lastWeek(b), { onRefused: (m) => refused.push(m) });
    expect(summary).toMatchObject({ recordsSeen: 2, callsNew: 1, recordsRefused: 1 });
    expect(refused).toEqual([`app ${V4_APP.sdkAppId}, page 1, record 2: Caller_Account: expected a non-empty string (or number) of at most 256 characters, got ""`]);
    expect(await q(`SELECT call_id FROM calls`)).toEqual([{ call_id: 'good' }]);
  });
});
