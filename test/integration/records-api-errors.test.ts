import { loadConfig } from '../../src/config';
import { freePort } from '../../src/db/free-port';
import { createBackfill } from '../../src/records/backfill.assembly';
import type { BackfillService } from '../../src/records/backfill.service';
import { openTestDatabase, truncateAll, type TestDatabase } from '../support/database';
import { FakeRecordsApi, type FakeApp } from '../support/fake-records-api';
import { spreadCalls, trtcApps, V1_APP, V4_APP, v1Record, v4Record } from '../support/records';

let db: TestDatabase;
let api: FakeRecordsApi;
beforeAll(async () => {
  db = await openTestDatabase();
  api = await new FakeRecordsApi([V4_APP, V1_APP], 20).start();
});
afterAll(async () => {
  await api.stop();
  await db.drop();
});
beforeEach(async () => {
  await truncateAll(db.dataSource);
  api.reset();
  const t = Math.floor(Date.now() / 1000) - 3600;
  api.setRecords(V4_APP.sdkAppId, [v4Record({ callId: 'c1', start: t })]);
  api.setRecords(V1_APP.sdkAppId, [v1Record({ callId: 'c1', start: t })]);
});

const APPS = { v1: V1_APP, v4: V4_APP };
const now = () => Math.floor(Date.now() / 1000);
const count = async (table: string) => (await db.dataSource.query(`SELECT count(*)::int AS n FROM ${table}`))[0].n as number;
/** The backfill as the CLI builds it; `apps` as configured (the fake knows the real keys). */
const backfill = (apps: readonly FakeApp[], options: Parameters<typeof createBackfill>[2] = {}, apiBase = api.baseUrl): BackfillService =>
  createBackfill(loadConfig({ TRTC_APPS: trtcApps(apps), TRTC_API_BASE: apiBase }), db.ingestDataSource, { backoffMs: 10, ...options });
const pull = (b: BackfillService, app: FakeApp) => b.pull(app.sdkAppId, b.clampWindow(now() - 86400, now()).window);
const requests = (app: FakeApp) => api.arrivals.filter((a) => a.sdkAppId === app.sdkAppId).length;

describe('records API errors', () => {
  it.each([
    ['v1', 50001, 'the app has no TUICallKit Group Call package, which the records API needs', 'activate the Group Call package'],
    ['v1', 70001, "Tencent refused the request's parameters", "keep the window within Tencent's last 7 days"],
    ['v1', 70002, 'the UserSig is invalid', 'check TRTC_APPS secretKey'],
    ['v1', 70003, 'the UserSig has expired', "check this machine's clock"],
    ['v1', 70004, 'the identifier is not an App administrator', 'set TRTC_APPS identifier'],
    ['v1', 70009, 'Tencent could not parse the request body', 'check TRTC_APPS generation'],
    ['v4', 70001, 'the UserSig has expired', "check this machine's clock"],
    ['v4', 70002, 'the UserSig is empty', 'check TRTC_APPS secretKey'],
    ['v4', 70003, 'the UserSig is invalid', 'check TRTC_APPS secretKey'],
    ['v4', 70004, 'the UserSig is invalid', 'check TRTC_APPS secretKey'],
    ['v4', 70005, 'the UserSig is invalid', 'check TRTC_APPS secretKey'],
    ['v4', 70009, "the UserSig does not verify: it was signed with another app's key", "it must be this app's secret key"],
  ] as const)('%s ErrorCode %i: fails at once with a message naming the app and the fix, storing nothing', async (gen, code, meaning, fix) => {
    const app = APPS[gen];
    api.fail(app.sdkAppId, { errorCode: code, times: 1 });
    const failure = pull(backfill([app]), app);
    await expect(failure).rejects.toThrow(`app ${app.sdkAppId} (${app.generation} records API): ${meaning} (ErrorCode ${code}, "injected error", RequestId `);
    await expect(failure).rejects.toThrow(fix);
    expect(requests(app)).toBe(1);
    expect(await count('call_events')).toBe(0);
  });

  it.each([
    ['v1', 70005, "Tencent limited this app's request rate"],
    ['v4', 60011, "Tencent limited this app's request rate"],
    ['v4', 101001, "Tencent's records service failed"],
  ] as const)('%s ErrorCode %i is retried with backoff and stores the records once it passes', async (gen, code, _meaning) => {
    const app = APPS[gen];
    api.fail(app.sdkAppId, { errorCode: code, times: 2 });
    const retries: number[] = [];
    const summary = await pull(backfill([app], { onRetry: (_e, _attempt, ms) => retries.push(ms) }), app);
    expect(summary).toMatchObject({ recordsSeen: 1, callsNew: 1 });
    expect(requests(app)).toBe(3);
    expect(retries).toHaveLength(2);
    if (code !== 101001) expect(Math.min(...retries)).toBeGreaterThanOrEqual(1000); // a rate limit waits out Tencent's second
  });

  it.each([
    ['v1', 70005, "Tencent limited this app's request rate"],
    ['v4', 101001, "Tencent's records service failed"],
  ] as const)('%s ErrorCode %i that persists ends in a clear message once the attempts are spent', async (gen, code, meaning) => {
    const app = APPS[gen];
    api.fail(app.sdkAppId, { errorCode: code, times: 10 });
    await expect(pull(backfill([app], { attempts: 2 }), app)).rejects.toThrow(new RegExp(`app ${app.sdkAppId} .*${meaning} \\(ErrorCode ${code}.*\\(gave up after 2 attempts\\)$`));
    expect(requests(app)).toBe(2);
  });

  it('reads v4 ErrorCode 101050 (no call records) as an empty window, not a failure', async () => {
    api.fail(V4_APP.sdkAppId, { errorCode: 101050, times: 1 });
    expect(await pull(backfill([V4_APP]), V4_APP)).toMatchObject({ pages: 0, recordsSeen: 0, callsNew: 0 });
  });

  it('retries 5xx answers and a 5xx now and then, and stores every record exactly once', async () => {
    const specs = spreadCalls(1000, now(), 'r5xx');
    api.setRecords(V4_APP.sdkAppId, specs.map(v4Record));
    api.fail(V4_APP.sdkAppId, { status: 502, times: 2 });
    api.failEvery = 4;
    const b = backfill([V4_APP]);
    const summary = await b.pull(V4_APP.sdkAppId, b.clampWindow(0, now()).window);
    expect(summary).toMatchObject({ pages: 10, recordsSeen: 1000, callsNew: 1000 });
    expect(requests(V4_APP)).toBeGreaterThan(12);
    expect(await count('calls')).toBe(1000);
    expect(await count('call_events')).toBe(2000);
  });

  it('gives up on an answer that does not come in time, and retries', async () => {
    api.fail(V4_APP.sdkAppId, { delayMs: 1000, times: 1 });
    const retries: string[] = [];
    const summary = await pull(backfill([V4_APP], { timeoutMs: 200, onRetry: (e) => retries.push(e.message) }), V4_APP);
    expect(summary).toMatchObject({ recordsSeen: 1, callsNew: 1 });
    expect(retries).toEqual([`app ${V4_APP.sdkAppId} (v4 records API at ${api.baseUrl}): no answer within 200 ms; calltrail retries with backoff`]);
  });

  it('verifies what it signs: a wrong secret key or identifier fails once, with the fix, and is never retried', async () => {
    const wrongKey = { ...V4_APP, secretKey: 'another-apps-key-000000000000' };
    await expect(pull(backfill([wrongKey]), V4_APP)).rejects.toThrow(`app ${V4_APP.sdkAppId} (v4 records API): the UserSig does not verify: it was signed with another app's key (ErrorCode 70009`);
    await expect(pull(backfill([{ ...V1_APP, secretKey: 'another-apps-key-000000000000' }]), V1_APP)).rejects.toThrow('(v1 records API): the UserSig is invalid (ErrorCode 70002');
    await expect(pull(backfill([{ ...V1_APP, identifier: 'someone' }]), V1_APP)).rejects.toThrow('the identifier is not an App administrator (ErrorCode 70004');
    expect(api.arrivals).toHaveLength(3);
  });

  it('fails at once on an HTTP error other than 5xx, naming the host to check', async () => {
    await expect(pull(backfill([{ ...V4_APP, generation: 'v1' }]), V4_APP)).rejects.toThrow(
      `app ${V4_APP.sdkAppId} (v1 records API at ${api.baseUrl}/v1/records/get_records_by_filter): answered HTTP 404; check TRTC_APPS region (or host) and generation`,
    );
  });

  it('retries a server that cannot be reached, then names it', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`; // nothing listens there
    await expect(pull(backfill([V4_APP], { attempts: 3 }, closed), V4_APP)).rejects.toThrow(
      `app ${V4_APP.sdkAppId} (v4 records API at ${closed}): cannot be reached (ECONNREFUSED); check the network and TRTC_APPS region (or host) (gave up after 3 attempts)`,
    );
  });
});
