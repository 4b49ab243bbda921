import { brotliCompressSync, gzipSync } from 'node:zlib';
import { connect } from 'node:net';
import { openTestDatabase, truncateAll, type TestDatabase } from '../support/database';
import { startTestApp, type TestApp } from '../support/app';
import { commandOf, makeCallback, OK_REPLY, postCallback, SDKAPPID, type CallbackBody } from '../support/callbacks';

const SECRET = 'edge-secret-456';
let db: TestDatabase;
let open: TestApp;
let guarded: TestApp;

beforeAll(async () => {
  db = await openTestDatabase();
  open = await startTestApp({ SDKAPPIDS: SDKAPPID, HTTP_REQUEST_TIMEOUT_MS: '1500' }, db);
  guarded = await startTestApp({ SDKAPPIDS: SDKAPPID, CALLBACK_SECRET: SECRET }, db);
});
afterAll(async () => {
  await open.stop();
  await guarded.stop();
  await db.drop();
});
beforeEach(() => truncateAll(db.dataSource));

const kept = () => db.dataSource.query(`SELECT error_code, reason, query_string, raw_body, body_encoding, body_bytes FROM rejected_callbacks`);

describe('hardened edges of POST /callback', () => {
  it.each([
    ['a body starting with a NUL byte', Buffer.concat([Buffer.from([0]), Buffer.from(JSON.stringify(makeCallback()))]), {}, 400, 'INVALID_JSON'],
    ['a body that is not UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), {}, 400, 'INVALID_JSON'],
    ['valid JSON with a byte that is not UTF-8 in a string', Buffer.concat([Buffer.from(JSON.stringify(makeCallback()).slice(0, -1) + ',"X":"'), Buffer.from([0xff]), Buffer.from('"}')]), {}, 400, 'INVALID_JSON'],
    ['a gzip body', gzipSync(JSON.stringify(makeCallback())), { 'content-encoding': 'gzip' }, 415, 'UNSUPPORTED_ENCODING'],
    ['a brotli body', brotliCompressSync(JSON.stringify(makeCallback())), { 'content-encoding': 'br' }, 415, 'UNSUPPORTED_ENCODING'],
  ])('refuses %s with a 4xx and keeps it, escaped as base64', async (_name, body, headers, status, code) => {
    const res = await postCallback(open.baseUrl, {}, { rawBody: body, headers });
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ code });
    const [row] = await kept();
    expect(row).toMatchObject({ error_code: code, body_encoding: 'base64', body_bytes: body.length });
    expect(Buffer.from(row.raw_body, 'base64').equals(body)).toBe(true);
    expect(row.reason).not.toContain('\u0000');
  });

  it.each(['json', 'text/plain', 'application/x-www-form-urlencoded', ''])('accepts a valid callback whatever its Content-Type (%j)', async (contentType) => {
    const res = await postCallback(open.baseUrl, makeCallback({ CallId: `ct-${contentType}` }), { contentType });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(OK_REPLY);
  });

  it('masks a secret whose name is percent-encoded, in quarantine', async () => {
    const res = await postCallback(guarded.baseUrl, makeCallback({ UserId: '' }), { query: { token: SECRET } });
    expect(res.status).toBe(400);
    const query = new URLSearchParams({ sdkappid: SDKAPPID, command: 'caller_start_call' }).toString();
    const url = `${guarded.baseUrl}/callback?${query}&%74oken=${SECRET}`;
    const raw = await fetch(url, { method: 'POST', body: JSON.stringify(makeCallback({ UserId: '' })) });
    expect(raw.status).toBe(400);
    const rows = await kept();
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row.query_string).not.toContain(SECRET);
    expect(rows.map((r: { query_string: string }) => r.query_string).join('&')).toContain('%74oken=***');
  });

  it('masks a secret written after a `;` in quarantine, in the refusal and in the fields it stores', async () => {
    const semi = 'SEMISECRET5';
    // `;` sent as is (URLSearchParams would encode it), so the server parses `x=1;token=…` as the value of x.
    const post = (app: TestApp, query: string, body: CallbackBody = makeCallback()) =>
      fetch(`${app.baseUrl}/callback?command=${commandOf(body)}&${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post(guarded, `sdkappid=${SDKAPPID}&x=1;token=${semi}`)).status).toBe(401);
    const badApp = await post(open, `sdkappid=${SDKAPPID};token=${semi}`);
    expect(badApp.status).toBe(400);
    expect(await badApp.text()).toContain(`got \\"${SDKAPPID};token=***\\"`);
    const rows = await kept();
    expect(rows.map((r: { query_string: string }) => r.query_string).sort()).toEqual(
      [`command=caller_start_call&sdkappid=${SDKAPPID}&x=1;token=***`, `command=caller_start_call&sdkappid=${SDKAPPID};token=***`].sort(),
    );
    expect(JSON.stringify(rows)).not.toContain(semi);
    const stored = await post(open, `sdkappid=${SDKAPPID}&clientip=10.0.0.1;token=${semi}`, makeCallback({ CallId: 'semicolon' }));
    expect(stored.status).toBe(200);
    const events: { row: string }[] = await db.dataSource.query(`SELECT e::text AS row FROM call_events e`);
    expect(events).toHaveLength(1);
    expect(events[0].row).toContain('10.0.0.1;token=***');
    expect(events[0].row).not.toContain(semi);
  });

  it('truncates a long query string in quarantine', async () => {
    await postCallback(open.baseUrl, makeCallback({ UserId: '' }), { query: { pad: 'q'.repeat(9000) } });
    const [row] = await kept();
    expect(row.query_string.length).toBeLessThanOrEqual(2048);
  });

  it('closes a connection whose body trickles in slower than HTTP_REQUEST_TIMEOUT_MS', async () => {
    const { port } = new URL(open.baseUrl);
    const socket = connect(Number(port), '127.0.0.1');
    socket.on('error', () => undefined); // the server closing mid-write is what this test wants
    await new Promise((r) => socket.once('connect', r));
    socket.write(`POST /callback?sdkappid=${SDKAPPID} HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n{`);
    const trickle = setInterval(() => socket.writable && socket.write(' '), 500);
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - started)));
    clearInterval(trickle);
    expect(closedAfter).toBeLessThan(1500 + 2000); // Node checks request timeouts every second
  });
});
