import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ApiKeyRepository } from '../../src/api-keys/api-key.repository';
import { freePort } from '../../src/db/free-port';
import { launchChromium, type Browser } from '../support/browser';
import { postCallback, type CallbackBody } from '../support/callbacks';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { callEvents, type CallSpec } from '../support/dataset';
import { createKey, gql } from '../support/graphql';
import { settle, startProcess } from '../support/ws';

const A = '1400000001';
const B = '1400000002';
const KEY = 'console-e2e-bootstrap-key-0123';
type Calltrail = Awaited<ReturnType<typeof startProcess>>;

let db: TestDatabase;
let env: Record<string, string>;
let server: Calltrail | undefined; // the calltrail the page talks to; one test restarts it
let ingest: Calltrail | undefined; // another calltrail on the same database: callbacks keep arriving while `server` restarts
let browser: Browser | undefined;
/** The test's own key for reading the API, so its reads never count against the page's key. */
let readerKey: string;

beforeAll(async () => {
  browser = await launchChromium();
  execFileSync(process.execPath, [join(__dirname, '../../scripts/build-console.js')], { stdio: 'inherit' });
  db = await openTestDatabase();
  const common = { DATABASE_URL: db.url, SDKAPPIDS: `${A},${B}`, LIVE_POLL_MS: '500' };
  env = { ...common, NODE_ENV: 'production', BOOTSTRAP_API_KEY: KEY, WS_KEY_RECHECK_MS: '1000', PORT: String(await freePort()) };
  [server, ingest] = await Promise.all([ready(env), ready(common)]);
  readerKey = await createKey(db.dataSource, 'test-reader', null);
}, 240000);
afterAll(async () => {
  await browser?.close();
  await Promise.all([server?.stop(), ingest?.stop()]);
  await db?.drop();
});

const page = () => browser!.page;
const now = () => Math.floor(Date.now() / 1000);
/** Calls started and calls answered, as posted by this file (all today): what the chart must show. */
const started = new Set<string>();
const answered = new Set<string>();

async function post(to: Calltrail, bodies: CallbackBody[], sdkAppId = A): Promise<void> {
  for (const body of bodies) {
    expect((await postCallback(to.baseUrl, body, { sdkAppId })).status).toBe(200);
    if (body.Event === 'start_call') started.add(`${sdkAppId}/${String(body.CallId)}`);
    if (body.Event === 'accept_call') answered.add(`${sdkAppId}/${String(body.CallId)}`);
  }
}
const call = (spec: Omit<CallSpec, 'start'>) => callEvents({ ring: 2, talk: 5, ...spec, start: now() });

/** Polls `read` until `ok`; fails with the last value seen. */
async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, ms = 15000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms; last seen: ${JSON.stringify(value)}`);
    await settle(100);
  }
}

/** A calltrail process, once ready: on a loaded machine starting one can take longer than startProcess waits. */
async function ready(processEnv: Record<string, string>): Promise<Calltrail> {
  const app = await startProcess(processEnv);
  const isReady = () => fetch(`${app.baseUrl}/readyz`).then((r) => r.ok, () => false);
  await until(`calltrail at ${app.baseUrl} ready`, isReady, (ok) => ok, 90000);
  return app;
}

const status = () => page().locator('#status').textContent().then((t) => t ?? '');
const waitLive = () => until('the console is live', status, (t) => t === 'Live');
async function connect(key: string): Promise<void> {
  await page().fill('#api-key', key);
  await page().click('#key-form button[type=submit]');
}

interface FeedRow {
  readonly cursor: string;
  readonly event: string;
  readonly callId: string;
}
const feedRows = (): Promise<FeedRow[]> =>
  page()
    .locator('#feed-rows tr')
    .evaluateAll((rows) => rows.map((r) => ({ cursor: r.getAttribute('data-cursor') ?? '', event: r.children[1].textContent ?? '', callId: r.children[2].textContent ?? '' })));
const boardState = (callId: string) => page().locator(`#board-rows tr[data-call-id="${callId}"]`).getAttribute('data-status', { timeout: 100 }).catch(() => null);
/** The cursors the API gives for a filter, newest first (the feed's order). */
async function apiCursors(filter: Record<string, unknown>): Promise<string[]> {
  const reply = await gql(server!.baseUrl, readerKey, 'query($f: CallEventFilter) { callEvents(filter: $f, first: 500) { edges { cursor } } }', { f: filter });
  return (reply.data!.callEvents.edges as { cursor: string }[]).map((e) => e.cursor).reverse();
}

describe('the console at /console', () => {
  it('is served with a Content-Security-Policy that allows only its own origin and its WebSocket, and serves no other file', async () => {
    const res = await fetch(`${server!.baseUrl}/console`);
    const host = new URL(server!.baseUrl).host;
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toBe(
      `default-src 'self'; connect-src 'self' ws://${host} wss://${host}; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
    );
    expect((await fetch(`${server!.baseUrl}/console/%2e%2e%2f%2e%2e%2fpackage.json`)).status).toBe(404);
  });

  it('says the key was refused and stops when the API refuses it', async () => {
    await page().goto(`${server!.baseUrl}/console`);
    await connect('not-a-key-of-this-server-0000');
    await until('a refusal', status, (t) => t.includes('API key was refused'));
    expect(await page().locator('#status').getAttribute('data-tone')).toBe('error');
  });

  it('shows callbacks in the live feed, newest on top, as the API stores them', async () => {
    await connect(KEY);
    await waitLive();
    await post(server!, call({ callId: 'feed-1', caller: 'Alice', callees: ['Bob'], outcome: 'missed' }));
    const expected = await apiCursors({ callId: 'feed-1' });
    const rows = await until('the feed', feedRows, (r) => r.filter((row) => row.callId === 'feed-1').length >= expected.length);
    expect(rows.filter((row) => row.callId === 'feed-1').map((row) => row.cursor)).toEqual(expected);
    expect(rows[0].event).toBe('CALL_RESULT');
  });

  it('shows a ringing call on the board, then the same call ongoing, and drops it when it ends', async () => {
    const bodies = call({ callId: 'board-1', caller: 'Alice', callees: ['Bob'], outcome: 'answered' });
    await post(server!, bodies.slice(0, 2)); // start_call, receive_call
    await until('a ringing call', () => boardState('board-1'), (s) => s === 'RINGING');
    await post(server!, bodies.slice(2, 4)); // accept_call, call_accepted
    await until('an ongoing call', () => boardState('board-1'), (s) => s === 'ONGOING');
    await post(server!, bodies.slice(4)); // call_end (both), normal_end
    await until('the call leaves the board', () => page().locator('#board-rows tr[data-call-id="board-1"]').count(), (n) => n === 0);
  });

  it("charts today's calls per hour with the answer rate", async () => {
    const rate = Math.round((100 * answered.size) / started.size);
    const expected = `${started.size} calls today, ${rate}% answered.`;
    const chart = async () => ({
      bars: await page().locator('#chart rect.bar').evaluateAll((rects) => rects.map((r) => Number(r.getAttribute('data-calls')))),
      summary: await page().locator('#chart-summary').textContent(),
    });
    // The chart is read again shortly after calls change: wait for the read after the last change.
    const { bars } = await until('the chart', chart, (c) => c.summary === expected && c.bars.reduce((a, b) => a + b, 0) === started.size);
    expect(bars.every((n) => n > 0)).toBe(true);
    expect(await page().locator('#chart circle.rate-dot').count()).toBeGreaterThan(0);
  });

  it('loses nothing when its server restarts mid-stream: every event once in the feed, and the board caught up', async () => {
    await post(server!, call({ callId: 'r-ends', caller: 'Alice', callees: ['Bob'], outcome: 'answered' }).slice(0, 2));
    await until('a ringing call', () => boardState('r-ends'), (s) => s === 'RINGING');
    let sending = true;
    const sender = (async () => {
      for (let i = 0; sending; i++) {
        await post(ingest!, call({ callId: `restart-${i}`, caller: 'Restarter', callees: ['Bob'], outcome: 'ongoing' }).slice(0, 1));
        await settle(100);
      }
    })();
    await settle(1000);
    await server!.stop();
    await until('the console notices', status, (t) => t.startsWith('Reconnecting'));
    // While the page's server is away: one call ends, another starts ringing.
    await post(ingest!, call({ callId: 'r-ends', caller: 'Alice', callees: ['Bob'], outcome: 'answered' }).slice(2));
    await post(ingest!, call({ callId: 'r-new', caller: 'Alice', callees: ['Carol'], outcome: 'ongoing' }).slice(0, 2));
    server = await ready(env);
    await until('the console is live again', status, (t) => t === 'Live', 30000);
    await settle(1000);
    sending = false;
    await sender;

    const expected = await apiCursors({ userId: 'Restarter' });
    expect(expected.length).toBeGreaterThan(20);
    const mine = (rows: FeedRow[]) => rows.filter((r) => r.callId.startsWith('restart-'));
    const rows = await until('every event in the feed', feedRows, (r) => mine(r).length >= expected.length);
    expect(mine(rows).map((r) => r.cursor)).toEqual(expected);
    expect(new Set(rows.map((r) => r.cursor)).size).toBe(rows.length);
    // Resumed from the last cursor handled: the sockets carried each event exactly once, in commit order.
    const delivered = browser!.received.map((m) => JSON.parse(m)).filter((m) => m.type === 'next' && m.payload.data?.callEventAdded?.userId === 'Restarter');
    expect(delivered.map((m) => m.payload.data.callEventAdded.cursor)).toEqual([...expected].reverse());
    await until('the ended call leaves', () => boardState('r-ends'), (s) => s === null);
    await until('the new call rings', () => boardState('r-new'), (s) => s === 'RINGING');
  }, 150000);

  it('reads its feed again when retention deleted events after its cursor while its server was away, then goes on live', async () => {
    await post(server!, call({ callId: 'x-before', caller: 'Expiry', callees: ['Bob'], outcome: 'ongoing' }).slice(0, 1));
    await until('the last event before the outage', feedRows, (rows) => rows.some((r) => r.callId === 'x-before'));
    await server!.stop();
    await until('the console notices', status, (t) => t.startsWith('Reconnecting'));
    // While the page is away: retention deletes the events up to one stored after the page's cursor (here
    // only those two: their rows go, the floor rises to the highest position deleted), and an event is stored.
    await post(ingest!, call({ callId: 'x-deleted', caller: 'Expiry', callees: ['Carol'], outcome: 'ongoing' }).slice(0, 1));
    await db.dataSource.query(`WITH d AS (DELETE FROM call_events WHERE call_id IN ('x-before', 'x-deleted') RETURNING position)
      INSERT INTO event_retention_floor (position) SELECT max(position) FROM d`);
    await post(ingest!, call({ callId: 'x-later', caller: 'Expiry', callees: ['Carol'], outcome: 'ongoing' }).slice(0, 1));
    const sent = browser!.received.length;
    server = await ready(env);
    await until('the console is live again', status, (t) => t === 'Live', 30000);
    const refusals = () => browser!.received.slice(sent).map((m) => JSON.parse(m)).filter((m) => m.type === 'error');
    const refused = await until('the resume refused', async () => refusals(), (r) => r.length > 0);
    expect(JSON.stringify(refused)).toContain('"code":"CURSOR_EXPIRED"');
    // Read again: the event stored while it was away is in the feed, once.
    let rows = await until('the feed read again', feedRows, (r) => r.some((row) => row.callId === 'x-later'));
    expect(new Set(rows.map((r) => r.cursor)).size).toBe(rows.length);
    // And live from there, without another refusal.
    await post(ingest!, call({ callId: 'x-after', caller: 'Expiry', callees: ['Dan'], outcome: 'ongoing' }).slice(0, 1));
    rows = await until('a live event after the reload', feedRows, (r) => r.some((row) => row.callId === 'x-after'));
    expect(rows.filter((r) => r.callId.startsWith('x-')).map((r) => r.callId)).toEqual(['x-after', 'x-later']);
    expect(refusals()).toHaveLength(1);
    expect(await status()).toBe('Live');
  }, 150000);

  it('applies the app, user and media filters to the feed, the board and the chart', async () => {
    await page().fill('#filter-app', B);
    await page().fill('#filter-user', 'Carol');
    await page().selectOption('#filter-media', 'VIDEO');
    await page().click('#filters button[type=submit]');
    await waitLive();
    expect(await feedRows()).toEqual([]);
    const spec = { caller: 'Carol', callees: ['Dan'], media: 'video', outcome: 'ongoing' } as const;
    await post(server!, call({ ...spec, callId: 'f-app' }), A);
    await post(server!, call({ ...spec, callId: 'f-user', caller: 'Dave' }), B);
    await post(server!, call({ ...spec, callId: 'f-media', media: 'audio' }), B);
    await post(server!, call({ ...spec, callId: 'f-match' }), B);
    const expected = await apiCursors({ sdkAppId: B, userId: 'Carol', mediaType: 'VIDEO' });
    await until('the filtered feed', feedRows, (r) => r.length >= expected.length);
    await settle(1000); // time for anything that should not be there to arrive
    const rows = await feedRows();
    expect(rows.map((r) => r.cursor)).toEqual(expected);
    expect(rows.every((r) => r.callId === 'f-match')).toBe(true);
    expect(await page().locator('#board-rows tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-call-id')))).toEqual(['f-match']);
    await until('the filtered chart', () => page().locator('#chart-summary').textContent(), (t) => t === '1 call today, 100% answered.');
  });

  it('says the key was refused and stops reconnecting when its key is revoked while connected', async () => {
    const key = await createKey(db.dataSource, 'revoked-live', null);
    await connect(key);
    await waitLive();
    await new ApiKeyRepository(db.dataSource).revoke('revoked-live');
    await until('a refusal', status, (t) => t.includes('API key was refused'));
    await settle(3000);
    expect([await status(), await page().locator('#status').getAttribute('data-tone')]).toEqual([expect.stringContaining('API key was refused'), 'error']);
  });

  it('logged no uncaught error and no Content-Security-Policy violation', () => {
    expect(browser!.problems).toEqual([]);
  });
});
