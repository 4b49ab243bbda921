import { createHash } from 'node:crypto';
import { openTestDatabase, truncateAll, type TestDatabase } from '../support/database';
import { startTestApp, type TestApp } from '../support/app';
import { makeCallback, OK_REPLY, postCallback, SDKAPPID, type CallbackBody, type PostOptions } from '../support/callbacks';

const SECRET = 'callback-secret-123';
const SIGN_TOKEN = 'sign-token-xyz';
let db: TestDatabase;
let open: TestApp; // accepts one app, no secret
let guarded: TestApp; // CALLBACK_SECRET and CALLBACK_SIGN_TOKEN

beforeAll(async () => {
  db = await openTestDatabase();
  open = await startTestApp({ SDKAPPIDS: SDKAPPID }, db);
  guarded = await startTestApp({ SDKAPPIDS: SDKAPPID, CALLBACK_SECRET: SECRET, CALLBACK_SIGN_TOKEN: SIGN_TOKEN }, db);
});
afterAll(async () => {
  await open.stop();
  await guarded.stop();
  await db.drop();
});
beforeEach(() => truncateAll(db.dataSource));

const quarantine = () =>
  db.dataSource.query(`SELECT error_code, reason, sdk_app_id, query_string, raw_body, body_bytes, times FROM rejected_callbacks`);
const eventCount = async () => (await db.dataSource.query(`SELECT count(*)::int AS n FROM call_events`))[0].n;

const without = (field: string): CallbackBody => {
  const body = makeCallback();
  delete body[field];
  return body;
};
const now = () => Math.floor(Date.now() / 1000);
const signed = (time: number, token = SIGN_TOKEN) => ({
  token: SECRET,
  RequestTime: String(time),
  Sign: createHash('sha256').update(`${token}${time}`).digest('hex'),
});

describe('refused callbacks', () => {
  it.each<[string, () => TestApp, CallbackBody, PostOptions, number, string, string]>([
    ['invalid JSON', () => open, {}, { rawBody: '{"UserId": "Alice",' }, 400, 'INVALID_JSON', 'body: expected a JSON object, got invalid JSON'],
    ['a JSON array', () => open, {}, { rawBody: '[1,2]' }, 400, 'INVALID_JSON', 'body: expected a JSON object, got [1,2]'],
    ['a missing CallId', () => open, without('CallId'), {}, 400, 'INVALID_FIELD', 'CallId: expected a non-empty string of at most 256 characters, got nothing'],
    ['a missing UserId', () => open, without('UserId'), {}, 400, 'INVALID_FIELD', 'UserId: expected a non-empty string of at most 256 characters, got nothing'],
    ['a missing EventTime', () => open, without('EventTime'), {}, 400, 'INVALID_FIELD', 'EventTime: expected Unix seconds from 2001 to 2060 (milliseconds are accepted too), got nothing'],
    ['a non-numeric EventTime', () => open, makeCallback({ EventTime: 'yesterday' }), {}, 400, 'INVALID_FIELD', 'EventTime: expected Unix seconds from 2001 to 2060 (milliseconds are accepted too), got "yesterday"'],
    ['an EventTime in 2200', () => open, makeCallback({ EventTime: 7258118400 }), {}, 400, 'INVALID_FIELD', 'EventTime: expected Unix seconds from 2001 to 2060 (milliseconds are accepted too), got 7258118400'],
    ['an EndTs out of range', () => open, makeCallback({ EndTs: 99999999999 }), {}, 400, 'INVALID_FIELD', 'EndTs: expected Unix seconds from 2001 to 2060, or 0 for unknown, got 99999999999'],
    ['a TotalNum too large', () => open, makeCallback({ TotalNum: 3000000000 }), {}, 400, 'INVALID_FIELD', 'TotalNum: expected an integer from 0 to 100000, got 3000000000'],
    ['a lone surrogate', () => open, {}, { rawBody: JSON.stringify(makeCallback()).replace('Alice"', 'Alice\\ud800"') }, 400, 'INVALID_JSON', 'body: expected JSON text of valid Unicode, got a lone surrogate escape'],
    ['neither Event nor CallResult', () => open, without('Event'), {}, 400, 'INVALID_FIELD', 'Event: expected an event name, or a CallResult for a status callback, got nothing'],
    ['a NUL character', () => open, {}, { rawBody: JSON.stringify(makeCallback({ UserId: 'a\u0000b' })) }, 400, 'INVALID_JSON', 'body: expected JSON without NUL'],
    ['a CallId too long to index', () => open, makeCallback({ CallId: 'c'.repeat(300) }), {}, 400, 'INVALID_FIELD', 'CallId: expected a non-empty string of at most 256 characters, got "ccc'],
    ['a body nested too deep', () => open, {}, { rawBody: `{"UserId":"a","Deep":${'['.repeat(40)}${']'.repeat(40)}}` }, 400, 'INVALID_JSON', 'body: expected JSON nested at most 32 levels deep, got deeper'],
    ['a command too long', () => open, makeCallback(), { query: { command: 'x'.repeat(300) } }, 400, 'INVALID_FIELD', 'command: expected a query parameter of at most 256 characters'],
    ['an unknown v4 command', () => open, { CallbackCommand: 'Call.CallbackBeforeStartCall' }, {}, 400, 'UNSUPPORTED_CALLBACK', 'CallbackCommand: expected one of Call.CallbackAfterStartCall'],
    ['a v4 record without its caller', () => open, { CallbackCommand: 'Call.CallbackAfterEndCall', CallRecord: { CallId: 'c' }, EventTime: 1704695566000 }, {}, 400, 'INVALID_FIELD', 'CallRecord.Caller_Account: expected a non-empty string'],
    ['no sdkappid', () => open, makeCallback(), { query: { sdkappid: '' } }, 400, 'INVALID_FIELD', 'sdkappid: expected the numeric SDKAppID as a query parameter, got ""'],
    ['another app', () => open, makeCallback(), { sdkAppId: '1499999999' }, 403, 'UNKNOWN_APP', 'sdkappid: expected an SDKAppID this server accepts, got "1499999999"'],
    ['no token', () => guarded, makeCallback(), {}, 401, 'BAD_TOKEN', 'token: expected the callback secret as a query parameter, got nothing'],
    ['a wrong token', () => guarded, makeCallback(), { query: { token: 'guess' } }, 401, 'BAD_TOKEN', 'token: expected the callback secret, got a different value'],
    ['no signature', () => guarded, makeCallback(), { query: { token: SECRET, RequestTime: String(now()) } }, 401, 'BAD_SIGNATURE', 'Sign: expected hex(sha256(token + RequestTime)) as a query parameter, got nothing'],
    ['a wrong signature', () => guarded, makeCallback(), { query: signed(now(), 'other-token') }, 401, 'BAD_SIGNATURE', 'Sign: expected hex(sha256(token + RequestTime)), got a signature that does not match'],
    ['a stale RequestTime', () => guarded, makeCallback(), { query: signed(now() - 3600) }, 401, 'BAD_SIGNATURE', 'RequestTime: expected a time within 300 s of now'],
  ])('refuses %s with a clear error and keeps it in quarantine once', async (_name, app, body, opts, status, code, message) => {
    const first = await postCallback(app().baseUrl, body, opts);
    expect(first.status).toBe(status);
    expect(first.body).toMatchObject({ ActionStatus: 'FAIL', code });
    expect(first.body.ErrorCode).not.toBe(0);
    expect(String(first.body.ErrorMessage)).toContain(message);
    await postCallback(app().baseUrl, body, opts);
    const rows = await quarantine();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ error_code: code, times: 2 });
    expect(rows[0].reason).toContain(message);
    expect(await eventCount()).toBe(0);
  });

  it('keeps the raw body and query in quarantine, with secrets masked', async () => {
    const raw = '{"UserId": "Alice",';
    await postCallback(guarded.baseUrl, {}, { rawBody: raw, query: signed(now()) });
    const [row] = await quarantine();
    expect(row).toMatchObject({ error_code: 'INVALID_JSON', sdk_app_id: SDKAPPID, raw_body: raw, body_bytes: raw.length });
    expect(row.query_string).toContain('token=***');
    expect(row.query_string).toContain('Sign=***');
    expect(row.query_string).not.toContain(SECRET);
  });

  it.each([
    ['another app', { sdkAppId: '1499999999' }, 'UNKNOWN_APP'],
    ['no sdkappid', { query: { sdkappid: '' } }, 'INVALID_FIELD'],
  ])('keeps whole a TRTC callback that fails the URL checks (%s), so it can be replayed after a configuration fix', async (_name, post, code) => {
    const body = makeCallback({ Padding: 'y'.repeat(20000) });
    await postCallback(open.baseUrl, body, post as PostOptions);
    const [row] = await quarantine();
    expect(row.error_code).toBe(code);
    expect(row.raw_body).toBe(JSON.stringify(body));
    expect(row.body_bytes).toBe(JSON.stringify(body).length);
  });

  it.each([
    ['junk that is not JSON', { sdkAppId: '1499999999', rawBody: 'x'.repeat(9000) }, 'UNKNOWN_APP'],
    ['JSON that is not a callback', { sdkAppId: '1499999999', rawBody: JSON.stringify({ hello: 'x'.repeat(9000) }) }, 'UNKNOWN_APP'],
    ['a body over 64 KiB from another app', { sdkAppId: '1499999999', rawBody: JSON.stringify(makeCallback({ Padding: 'y'.repeat(70000) })) }, 'BODY_TOO_LARGE'],
  ])('only counts %s from a caller that fails the URL checks, per code and source', async (_name, post, code) => {
    const res = await postCallback(open.baseUrl, {}, post as PostOptions);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(await quarantine()).toEqual([]);
    await open.app.ingest.quarantine.flushCounts();
    const counts = await db.dataSource.query(`SELECT error_code, source, times::int, bytes::int FROM rejected_callback_counts`);
    expect(counts).toEqual([{ error_code: code, source: '127.0.0.1', times: 1, bytes: expect.any(Number) }]);
    expect(counts[0].bytes).toBeGreaterThan(8999);
  });

  it('keeps the whole body of a callback that passes the checks but is refused', async () => {
    await postCallback(open.baseUrl, makeCallback({ Padding: 'y'.repeat(20000), CallId: '' }));
    const [row] = await quarantine();
    expect(row.error_code).toBe('INVALID_FIELD');
    expect(row.raw_body.length).toBe(row.body_bytes);
  });

  it('accepts a callback with the right token and a fresh signature', async () => {
    const res = await postCallback(guarded.baseUrl, makeCallback(), { query: signed(now()) });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(OK_REPLY);
    expect(await eventCount()).toBe(1);
  });

  it('refuses a body over 64 KiB with 413 and keeps its first 64 KiB in quarantine', async () => {
    const body = makeCallback({ Padding: 'x'.repeat(70 * 1024) });
    const res = await postCallback(open.baseUrl, body);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ code: 'BODY_TOO_LARGE', ErrorCode: 4130 });
    expect(String(res.body.ErrorMessage)).toMatch(/^body: expected at most 65536 bytes, got \d+$/);
    const [row] = await quarantine();
    expect(row.error_code).toBe('BODY_TOO_LARGE');
    expect(row.raw_body).toHaveLength(64 * 1024);
    expect(row.body_bytes).toBe(JSON.stringify(body).length);
  });

  it('refuses a body over 1 MiB with 413 and still records it in quarantine', async () => {
    const res = await postCallback(open.baseUrl, makeCallback({ Padding: 'x'.repeat(1100 * 1024) }));
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ code: 'BODY_TOO_LARGE' });
    const [row] = await quarantine();
    expect(row).toMatchObject({ error_code: 'BODY_TOO_LARGE', raw_body: '' });
    expect(row.body_bytes).toBeGreaterThan(1024 * 1024);
  });
});
