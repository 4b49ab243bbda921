import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { loadConfig } from '../../src/config';
import { createBackfill } from '../../src/records/backfill.assembly';
import { RECONCILE_LOCK } from '../../src/records/reconcile.scheduler';
import { startTestApp, type TestApp } from '../support/app';
import { makeCallback, makeStatusCallback, OK_REPLY, postCallback } from '../support/callbacks';
import { postV4Callback, v4CallBodies, type V4Call } from '../support/callbacks-v4';
import { truncateAll } from '../support/database';
import { FakeRecordsApi } from '../support/fake-records-api';
import { trtcApps, V1_APP, v1Record, V4_APP } from '../support/records';

const APPS = [V4_APP, V1_APP];
let api: FakeRecordsApi;
let t: TestApp;
let env: Record<string, string>;
beforeAll(async () => {
  api = await new FakeRecordsApi(APPS, 20).start();
  env = { SDKAPPIDS: APPS.map((a) => a.sdkAppId).join(','), TRTC_APPS: trtcApps(APPS), TRTC_API_BASE: api.baseUrl, RECONCILE_INTERVAL_MIN: '60' };
  t = await startTestApp(env);
});
afterAll(async () => {
  await t.stop();
  await api.stop();
});
beforeEach(async () => {
  await truncateAll(t.db.dataSource);
  api.reset();
  for (const a of APPS) api.setRecords(a.sdkAppId, []);
});

const now = () => Math.floor(Date.now() / 1000);
const q = <T = Record<string, any>>(sql: string, params: unknown[] = []): Promise<T[]> => t.db.dataSource.query(sql, params);

/** A v4 call's callbacks, as Tencent would send them, and its record, as the records API would give it. */
function v4Call(c: V4Call) {
  const bodies = v4CallBodies(c);
  return { bodies, record: (bodies.at(-1) as { CallRecord: Record<string, unknown> }).CallRecord };
}
const post = async (bodies: Record<string, unknown>[]) => {
  for (const b of bodies) expect(await postV4Callback(t.baseUrl, b, { sdkAppId: V4_APP.sdkAppId })).toEqual({ status: 200, body: OK_REPLY });
};
/** A v1 call (Alice calls Bob, answered after 5 s, 60 s of talk): its callbacks and its v1 record. */
function v1Call(callId: string, start: number) {
  const at = (over: Record<string, unknown>) => makeCallback({ CallId: callId, EventTime: start, ...over });
  const times = { StartCallTs: start, AcceptTs: start + 5, EndTs: start + 65 };
  const bodies = [
    at({}),
    at({ UserId: 'Bob', Role: 'callee', Event: 'accept_call', EventTime: start + 5 }),
    at({ Event: 'call_end', CallResult: 'normal_end', EventTime: start + 65, ...times }),
    at({ UserId: 'Bob', Role: 'callee', Event: 'call_end', CallResult: 'normal_end', EventTime: start + 65, ...times }),
    makeStatusCallback({ CallId: callId, EventTime: start + 66, ...times }),
  ];
  return { bodies, record: v1Record({ callId, start }) };
}
const postV1 = async (bodies: Record<string, unknown>[]) => {
  for (const b of bodies) expect((await postCallback(t.baseUrl, b, { sdkAppId: V1_APP.sdkAppId })).status).toBe(200);
};
const projection = async () => {
  const calls = await q(`SELECT * FROM calls ORDER BY sdk_app_id, call_id`);
  const participants = await q(`SELECT * FROM call_participants ORDER BY sdk_app_id, call_id, user_id`);
  const strip = ({ id: _i, call_ref: _r, last_position: _p, updated_at: _u, ...rest }: Record<string, unknown>) => rest;
  return new Map(calls.map((c) => [c.call_id as string, { call: strip(c), participants: participants.filter((p) => p.call_id === c.call_id).map(strip) }]));
};
/** The fields of a call (or its participants) that changed. */
const changed = (before: Record<string, unknown>, after: Record<string, unknown>) =>
  Object.keys(after).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));

describe('records and callbacks of the same call', () => {
  it('leave calls known from callbacks unchanged but for what the record adds', async () => {
    const start = now() - 7200;
    const full = v4Call({ callId: 'full', caller: 'Alice', callees: ['Bob'], outcome: 'answered', start });
    const rejected = v4Call({ callId: 'rejected', caller: 'Carol', callees: ['Dan'], outcome: 'rejected', start: start + 100 });
    const noEnd = v4Call({ callId: 'no-end', caller: 'Erin', callees: ['Finn'], outcome: 'answered', start: start + 200 });
    const onlyStart = v4Call({ callId: 'only-start', caller: 'Gus', callees: ['Hal', 'Ida'], outcome: 'missed', start: start + 300 });
    const v1 = v1Call('v1-full', start + 400);
    await post([...full.bodies, ...rejected.bodies, ...noEnd.bodies.slice(0, -1), onlyStart.bodies[0]]);
    await postV1(v1.bodies);
    api.setRecords(V4_APP.sdkAppId, [full.record, rejected.record, noEnd.record, onlyStart.record]);
    api.setRecords(V1_APP.sdkAppId, [v1.record]);
    const before = await projection();

    const b = createBackfill(loadConfig(env), t.db.dataSource);
    const window = b.clampWindow(now() - 86400, now()).window;
    expect(await b.pull(V4_APP.sdkAppId, window)).toMatchObject({ recordsSeen: 4, callsNew: 0, callsKnown: 4 });
    expect(await b.pull(V1_APP.sdkAppId, window)).toMatchObject({ recordsSeen: 1, callsNew: 0, callsKnown: 1 });
    const after = await projection();

    for (const id of ['full', 'rejected', 'v1-full']) expect(after.get(id)).toEqual(before.get(id));
    expect(changed(before.get('no-end')!.call, after.get('no-end')!.call)).toEqual(['call_type']); // the record alone says SINGLE
    expect(after.get('no-end')!.participants.map((p, i) => changed(before.get('no-end')!.participants[i], p))).toEqual([['call_type'], ['call_type']]);
    expect(before.get('only-start')!.call).toMatchObject({ status: 'RINGING', result: null });
    expect(after.get('only-start')!.call).toMatchObject({ status: 'ENDED', result: 'NOT_ANSWER', call_type: 'GROUP', caller_id: 'Gus', ended_at: new Date((start + 330) * 1000) });
    // As the end-of-call callback would have it: nobody answered (the fold's rule for an unanswered call, its caller included).
    expect(after.get('only-start')!.participants.map((p) => [p.user_id, p.role, p.outcome])).toEqual([['Gus', 'CALLER', 'NO_ANSWER'], ['Hal', 'CALLEE', 'NO_ANSWER'], ['Ida', 'CALLEE', 'NO_ANSWER']]);
    expect(await q(`SELECT count(*)::int AS n FROM calls`)).toEqual([{ n: 5 }]);
  });
});

/** The value of a metric series on /metrics (0 when absent). */
async function metric(name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${t.baseUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

describe('reconcile', () => {
  it('finds exactly the calls whose callbacks were all withheld, counts them once, and completes the others', async () => {
    const start = now() - 3600;
    const v4 = Array.from({ length: 12 }, (_, i) => v4Call({ callId: `r4-${i}`, caller: `a${i}`, callees: [`b${i}`], outcome: i % 3 === 0 ? 'missed' : 'answered', start: start + i * 60 }));
    const v1 = Array.from({ length: 5 }, (_, i) => v1Call(`r1-${i}`, start + i * 60));
    await post(v4.slice(0, 6).flatMap((c) => c.bodies)); // delivered
    await post(v4.slice(6, 8).flatMap((c) => c.bodies.slice(0, -1))); // the end-of-call callback lost
    await postV1(v1.slice(0, 3).flatMap((c) => c.bodies)); // v4 8..11 and v1 3..4: nothing reached calltrail
    api.setRecords(V4_APP.sdkAppId, v4.map((c) => c.record));
    api.setRecords(V1_APP.sdkAppId, v1.map((c) => c.record));
    const found = (app: string) => metric('calltrail_reconcile_calls_found_total', `{app="${app}"}`);
    const [found4, found1, ok] = [await found(V4_APP.sdkAppId), await found(V1_APP.sdkAppId), await metric('calltrail_reconcile_runs_total', '{outcome="ok"}')];

    const report = await t.app.reconcile!.runNow();
    expect(report.outcome).toBe('ok');
    expect(report.pulls.map((p) => [p.sdkAppId, p.recordsSeen, p.callsNew, p.callsKnown])).toEqual([[V4_APP.sdkAppId, 12, 4, 8], [V1_APP.sdkAppId, 5, 2, 3]]);
    expect((await found(V4_APP.sdkAppId)) - found4).toBe(4);
    expect((await found(V1_APP.sdkAppId)) - found1).toBe(2);
    expect(await metric('calltrail_reconcile_last_success_timestamp_seconds')).toBeGreaterThan(now() - 60);
    const withheld = await q(`SELECT call_id, status, caller_id FROM calls WHERE call_id IN ('r4-8', 'r4-9', 'r4-10', 'r4-11', 'r1-3', 'r1-4') ORDER BY call_id`);
    expect(withheld).toEqual(['r1-3', 'r1-4', 'r4-10', 'r4-11', 'r4-8', 'r4-9'].map((id) => ({ call_id: id, status: 'ENDED', caller_id: id.startsWith('r1') ? 'Alice' : `a${id.slice(3)}` })));
    expect(await q(`SELECT count(*)::int AS n FROM calls WHERE status = 'ENDED'`)).toEqual([{ n: 17 }]);

    expect((await t.app.reconcile!.runNow()).pulls.map((p) => p.callsNew)).toEqual([0, 0]);
    expect((await found(V4_APP.sdkAppId)) - found4).toBe(4);
    expect((await metric('calltrail_reconcile_runs_total', '{outcome="ok"}')) - ok).toBe(2);
    expect(api.maxPerSecond(V4_APP.sdkAppId)).toBeLessThanOrEqual(20);
  });

  it('skips its run while another replica holds the reconcile lock', async () => {
    const other = new Client({ connectionString: t.db.url });
    await other.connect();
    try {
      await other.query('SELECT pg_advisory_lock($1)', [RECONCILE_LOCK]);
      const skipped = await metric('calltrail_reconcile_runs_total', '{outcome="skipped"}');
      expect(await t.app.reconcile!.runNow()).toEqual({ outcome: 'skipped', pulls: [], errors: [] });
      expect(api.arrivals).toEqual([]);
      expect((await metric('calltrail_reconcile_runs_total', '{outcome="skipped"}')) - skipped).toBe(1);
    } finally {
      await other.end();
    }
    expect((await t.app.reconcile!.runNow()).outcome).toBe('ok');
  });

  it('reports a failing app and counts the error, while the other app is reconciled', async () => {
    api.fail(V1_APP.sdkAppId, { errorCode: 70004, times: 1 });
    api.setRecords(V4_APP.sdkAppId, [v4Call({ callId: 'lone', caller: 'Al', callees: ['Bo'], outcome: 'answered', start: now() - 600 }).record]);
    const errors = await metric('calltrail_reconcile_errors_total', `{app="${V1_APP.sdkAppId}"}`);
    const report = await t.app.reconcile!.runNow();
    expect(report.outcome).toBe('error');
    expect(report.errors).toEqual([{ sdkAppId: V1_APP.sdkAppId, message: expect.stringContaining('the identifier is not an App administrator (ErrorCode 70004') }]);
    expect(report.pulls.map((p) => [p.sdkAppId, p.callsNew])).toEqual([[V4_APP.sdkAppId, 1]]);
    expect((await metric('calltrail_reconcile_errors_total', `{app="${V1_APP.sdkAppId}"}`)) - errors).toBe(1);
  });

  it('is cut short by shutdown while it waits to retry', async () => {
    const second = await startTestApp(env, t.db);
    api.fail(V4_APP.sdkAppId, { status: 503, times: 100 });
    const run = second.app.reconcile!.runNow();
    while (api.arrivals.length === 0) await new Promise((r) => setTimeout(r, 10));
    const stopping = Date.now();
    await second.stop();
    expect(Date.now() - stopping).toBeLessThan(3000);
    expect((await run).outcome).toBe('stopped');
  });
});

describe('npm run backfill', () => {
  const cli = (args: string[]) =>
    promisify(execFile)(process.execPath, [require.resolve('tsx/cli'), 'src/cli/backfill.cli.ts', ...args], {
      env: { ...process.env, ...env, DATABASE_URL: t.db.url, LOG_LEVEL: 'silent', RECONCILE_INTERVAL_MIN: '' },
    });

  it('prints progress on stderr and a summary on stdout, and stores nothing new the second time', async () => {
    const start = now() - 86400;
    api.setRecords(V4_APP.sdkAppId, Array.from({ length: 150 }, (_, i) => v4Call({ callId: `cli-${i}`, caller: 'Al', callees: ['Bo'], outcome: 'answered', start: start + i }).record));
    const since = new Date((start - 60) * 1000).toISOString();
    const first = await cli(['--app', V4_APP.sdkAppId, '--since', since]);
    expect(first.stderr).toContain(`app ${V4_APP.sdkAppId}: page 2/2, 150 records, 150 calls new, 0 already known`);
    expect(first.stdout).toMatch(new RegExp(`^app ${V4_APP.sdkAppId}, calls started ${since.replace(/\./g, '\\.')} to .*: 150 records seen, 150 calls new to calltrail, 0 calls already known, 0 records refused\\n$`));
    const second = await cli(['--app', V4_APP.sdkAppId, '--since', since, '--until', new Date().toISOString()]);
    expect(second.stdout).toContain('150 records seen, 0 calls new to calltrail, 150 calls already known');
    expect(await q(`SELECT count(*)::int AS n FROM calls`)).toEqual([{ n: 150 }]);
  }, 60_000);

  it('names the records it refused and exits 2', async () => {
    const bad = { ...v4Call({ callId: 'cli-bad', caller: 'Al', callees: ['Bo'], outcome: 'answered', start: now() - 600 }).record, Caller_Account: '' };
    api.setRecords(V4_APP.sdkAppId, [bad]);
    await expect(cli(['--app', V4_APP.sdkAppId, '--since', new Date((now() - 3600) * 1000).toISOString()])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining(`refused: app ${V4_APP.sdkAppId}, page 1, record 1: Caller_Account: expected a non-empty string`),
      stdout: expect.stringContaining('1 records seen, 0 calls new to calltrail, 0 calls already known, 1 records refused'),
    });
  }, 60_000);

  it('explains a bad app, a bad time and an old --since', async () => {
    await expect(cli(['--app', '42', '--since', '2024-01-01T00:00:00Z'])).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining(`app: expected one of the apps in TRTC_APPS (${V4_APP.sdkAppId}, ${V1_APP.sdkAppId}), got "42"`) });
    await expect(cli(['--app', V4_APP.sdkAppId, '--since', 'last tuesday'])).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('--since: expected an ISO time such as 2024-05-01T08:00:00Z, got "last tuesday"') });
    const old = await cli(['--app', V4_APP.sdkAppId, '--since', new Date((now() - 30 * 86400) * 1000).toISOString()]);
    expect(old.stderr).toContain("is older than Tencent keeps records (7 days): pulling from");
  }, 60_000);
});
