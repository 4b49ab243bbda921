import { startTestApp, type TestApp } from '../support/app';
import { makeCallback, makeStatusCallback, postCallback, T0 } from '../support/callbacks';
import { runCli } from '../support/cli';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { createKey, gql } from '../support/graphql';

const A = '1400000001';
const B = '1400000002'; // missing from SDKAPPIDS at first, then added
const C = '1400000003'; // never added
const SECRET = 'callback-secret-0123';
const token = { token: SECRET };
let db: TestDatabase;
let fixed: TestApp;

const start = makeCallback({ CallId: 'q-1' });
const quarantine = () => db.dataSource.query(`SELECT id::text, error_code, reason, times, credentials_ok FROM rejected_callbacks ORDER BY id`);
const startEvents = async () => (await db.dataSource.query(`SELECT count(*)::int AS n FROM call_events WHERE call_id = 'q-1' AND event_type = 'START_CALL'`))[0].n;
const replay = (args: string[]) => runCli('quarantine', ['replay', ...args], { DATABASE_URL: db.url, SDKAPPIDS: `${A},${B}`, CALLBACK_SECRET: SECRET });

beforeAll(async () => {
  db = await openTestDatabase();
  // Before the fix: B is not one of ours yet.
  const before = await startTestApp({ SDKAPPIDS: A, CALLBACK_SECRET: SECRET }, db);
  const refused = [
    await postCallback(before.baseUrl, start, { sdkAppId: B, query: token }),
    await postCallback(before.baseUrl, start, { sdkAppId: B, query: token }), // Tencent's retry
    await postCallback(before.baseUrl, makeCallback({ CallId: 'q-2' }), { sdkAppId: B, query: token }),
    await postCallback(before.baseUrl, makeCallback({ CallId: 'q-forged' }), { sdkAppId: B, query: { token: 'guess' } }),
    await postCallback(before.baseUrl, makeCallback({ CallId: 'q-3' }), { sdkAppId: C, query: token }),
    await postCallback(before.baseUrl, makeCallback({ CallId: '' }), { sdkAppId: B, query: token }),
  ];
  expect(refused.map((r) => r.status)).toEqual([403, 403, 403, 403, 403, 403]);
  await before.app.close();
  // After the fix (SDKAPPIDS includes B), the rest of call q-1 arrives, and Tencent's retry of q-2 is stored.
  fixed = await startTestApp({ SDKAPPIDS: `${A},${B}`, CALLBACK_SECRET: SECRET }, db);
  const later = [
    makeCallback({ CallId: 'q-1', UserId: 'Bob', Role: 'callee', Event: 'receive_call', EventTime: T0 + 2 }),
    makeCallback({ CallId: 'q-1', UserId: 'Bob', Role: 'callee', Event: 'accept_call', EventTime: T0 + 6 }),
    makeStatusCallback({ CallId: 'q-1', EventTime: T0 + 66 }),
    makeCallback({ CallId: 'q-2' }),
  ];
  for (const body of later) expect((await postCallback(fixed.baseUrl, body, { sdkAppId: B, query: token })).status).toBe(200);
}, 60000);
afterAll(async () => {
  await fixed?.app.close();
  await db.drop();
});

describe('npm run quarantine', () => {
  it('lists the kept refusals newest first, and which can be replayed', async () => {
    const listed = await runCli('quarantine', ['list', '--reason', 'unknown_app'], { DATABASE_URL: db.url });
    const rows = listed.stdout.trim().split('\n').map((l) => l.split('\t'));
    expect(rows.map((r) => [r[1], r[2], r[4], r[5]])).toEqual([
      ['UNKNOWN_APP', 'x1', `app ${B}`, 'replayable'], // no CallId: its body was not read yet
      ['UNKNOWN_APP', 'x1', `app ${C}`, 'replayable'],
      ['UNKNOWN_APP', 'x1', `app ${B}`, 'unverified'],
      ['UNKNOWN_APP', 'x1', `app ${B}`, 'replayable'],
      ['UNKNOWN_APP', 'x2', `app ${B}`, 'replayable'],
    ]);
    expect((await runCli('quarantine', ['list', '--limit', '1'], { DATABASE_URL: db.url })).stdout.trim().split('\n')).toHaveLength(1);
  }, 30000);

  it('stores a refusal for an app added since once, folds it into its call, and keeps what is still refused with its new reason', async () => {
    const before = await gql(fixed.baseUrl, await createKey(db.dataSource, 'ops', null), `{ call(callId: "q-1", sdkAppId: "${B}") { startedAt ringSeconds } }`);
    expect(before.data!.call).toEqual({ startedAt: new Date((T0 + 2) * 1000).toISOString(), ringSeconds: 4 });
    const run = await replay(['--all']);
    expect(run.stdout).toContain('replayed 5: 1 stored, 1 already stored, 2 refused again, 1 skipped');
    expect(run.code).toBe(2);
    expect(await startEvents()).toBe(1);
    const call = await gql(fixed.baseUrl, await createKey(db.dataSource, 'ops2', null), `{ call(callId: "q-1", sdkAppId: "${B}") { callerId startedAt ringSeconds result events { event } } }`);
    expect(call.data!.call).toEqual({
      callerId: 'Alice',
      startedAt: new Date(T0 * 1000).toISOString(),
      ringSeconds: 6,
      result: 'NORMAL_END',
      // Events are listed in commit order: the replayed start came last and folded first.
      events: [{ event: 'RECEIVE_CALL' }, { event: 'ACCEPT_CALL' }, { event: 'CALL_RESULT' }, { event: 'START_CALL' }],
    });
    expect(await quarantine()).toEqual([
      { id: expect.any(String), error_code: 'UNKNOWN_APP', reason: expect.stringContaining('got "1400000002"'), times: 1, credentials_ok: false },
      { id: expect.any(String), error_code: 'UNKNOWN_APP', reason: expect.stringContaining(`got "${C}"`), times: 1, credentials_ok: true },
      { id: expect.any(String), error_code: 'INVALID_FIELD', reason: expect.stringContaining('CallId: expected'), times: 1, credentials_ok: true },
    ]);
  }, 30000);

  it('stores nothing more when replayed again, and replays an unverified refusal only when told', async () => {
    const again = await replay(['--all']);
    expect(again.stdout).toContain('replayed 3: 0 stored, 0 already stored, 2 refused again, 1 skipped');
    expect(await startEvents()).toBe(1);
    const forged = (await quarantine())[0].id;
    const vouched = await replay(['--id', forged, '--unverified']);
    expect(vouched.stdout).toContain(`${forged}\tstored (removed from the quarantine)`);
    expect(vouched.code).toBe(0);
    expect((await quarantine()).map((r: { error_code: string }) => r.error_code)).toEqual(['UNKNOWN_APP', 'INVALID_FIELD']);
  }, 30000);

  it('explains a replay with no selection and an id that is not kept', async () => {
    expect(await replay([])).toMatchObject({ code: 1, stderr: expect.stringContaining('--id or --all: expected which refusals to replay, got neither') });
    expect(await replay(['--id', '999999'])).toMatchObject({ code: 1, stderr: expect.stringContaining('got 999999, which is not in the quarantine') });
  }, 30000);
});
