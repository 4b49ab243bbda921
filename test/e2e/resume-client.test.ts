import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { resumeSubscription } from '../../examples/resume-client';
import { ApiKeyRepository } from '../../src/api-keys/api-key.repository';
import { freePort } from '../../src/db/free-port';
import { makeCallback, postCallback, T0 } from '../support/callbacks';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { createKey, gql } from '../support/graphql';
import { settle, startProcess } from '../support/ws';

const APP = '1400000001';
const FEED = 'subscription($after: String) { callEventAdded(filter: { userId: "resume" }, after: $after) { cursor callId } }';
type Event = { cursor: string; callId: string };
type Calltrail = Awaited<ReturnType<typeof startProcess>>;

let db: TestDatabase;
let port: number;
let server: Calltrail;
/** WebSockets the clients opened: a client that stops for good opens no more. */
let sockets = 0;
class CountingWebSocket extends WebSocket {
  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args);
    sockets++;
  }
}

const start = () => startProcess({ DATABASE_URL: db.url, PORT: String(port), SDKAPPIDS: APP, LIVE_POLL_MS: '200', WS_KEY_RECHECK_MS: '300' });
const url = () => `ws://127.0.0.1:${port}/graphql`;
const body = (i: number) => makeCallback({ CallId: `resume-${String(i).padStart(4, '0')}`, UserId: 'resume', Role: 'callee', Event: 'receive_call', EventTime: T0 + i });

/** Posts callback `i` until calltrail answers 200, as Tencent retries (whichever process is up). */
async function deliver(i: number): Promise<void> {
  for (;;) {
    const status = await postCallback(`http://127.0.0.1:${port}`, body(i), { sdkAppId: APP }).then((r) => r.status, () => 0);
    if (status === 200) return;
    await settle(100);
  }
}

async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  for (const until = Date.now() + ms; !check(); await settle(50)) if (Date.now() > until) throw new Error(`expected ${what} within ${ms} ms`);
}

beforeAll(async () => {
  db = await openTestDatabase();
  port = await freePort();
  server = await start();
}, 60000);
afterAll(async () => {
  await server?.stop();
  await db.drop();
});

describe('the resume client of docs/api.md', () => {
  it('is the code docs/api.md shows', () => {
    const code = readFileSync(join(__dirname, '../../examples/resume-client.ts'), 'utf8');
    expect(readFileSync(join(__dirname, '../../docs/api.md'), 'utf8')).toContain(code.trim());
  });

  it('gets every event once, in order, while calltrail is stopped (1001), killed (1006) and started again under a stream of callbacks', async () => {
    const key = await createKey(db.dataSource, 'console', [APP]);
    await deliver(0);
    const history = await gql(`http://127.0.0.1:${port}`, key, '{ callEvents(filter: { userId: "resume" }, last: 1) { edges { cursor } } }');
    const received: Event[] = [];
    const stopped: unknown[] = [];
    const sub = resumeSubscription<Event>({ url: url(), apiKey: key, query: FEED, after: history.data!.callEvents.edges[0].cursor, onEvent: (e) => received.push(e), onStopped: (r) => stopped.push(r), webSocketImpl: WebSocket, maxDelayMs: 1000 });
    const total = 300;
    let posted = 1;
    const writer = (async () => {
      for (; posted < total; posted++) await deliver(posted);
    })();
    await waitFor(() => received.length >= 60, 20000, '60 events before the restart');
    await server.stop(); // SIGTERM: sockets are closed 1001
    server = await start();
    await waitFor(() => received.length >= 160, 30000, '160 events before the kill');
    server.child.kill('SIGKILL'); // no close frame: 1006
    await new Promise((r) => server.child.once('exit', r));
    server = await start();
    await writer;
    await waitFor(() => received.length >= total - 1, 30000, `${total - 1} events`);
    await settle(500);
    sub.stop();
    expect(stopped).toEqual([]);
    expect(received.map((e) => e.callId)).toEqual(Array.from({ length: total - 1 }, (_, i) => body(i + 1).CallId));
    expect(sub.last()).toBe(received.at(-1)!.cursor);
  }, 120000);

  it('stops for good when its key is revoked (4403), and opens no more sockets', async () => {
    const key = await createKey(db.dataSource, 'revoked', [APP]);
    const stopped: { code?: number }[] = [];
    const received: Event[] = [];
    resumeSubscription<Event>({ url: url(), apiKey: key, query: FEED, after: null, onEvent: (e) => received.push(e), onStopped: (r) => stopped.push(r as { code?: number }), webSocketImpl: CountingWebSocket, maxDelayMs: 200 });
    // With no cursor the subscription starts from when it takes effect, which the client is not told:
    // post until one event arrives.
    for (let i = 0; received.length === 0 && i < 40; i++) {
      await deliver(1000 + i);
      await settle(250);
    }
    await waitFor(() => received.length >= 1, 10000, 'the first event');
    await new ApiKeyRepository(db.dataSource).revoke('revoked');
    await waitFor(() => stopped.length > 0, 10000, 'the stop');
    await settle(1500);
    expect(stopped).toEqual([expect.objectContaining({ code: 4403 })]);
    expect(sockets).toBe(1);
  }, 30000);

  it('asks onCursorExpired where to go on when events after its cursor were deleted by retention, and stops without it', async () => {
    const key = await createKey(db.dataSource, 'expiry', [APP]);
    const base = `http://127.0.0.1:${port}`;
    const read = async (q: string) => (await gql(base, key, q)).data!.callEvents.edges[0].cursor as string;
    const old = await read('{ callEvents(filter: { userId: "resume" }, first: 1) { edges { cursor } } }');
    // As retention does when it deletes events: the floor (the highest position deleted) rises past the saved cursor.
    await db.dataSource.query(`INSERT INTO event_retention_floor (position) SELECT max(position) FROM call_events`);
    const latest = await read('{ callEvents(filter: { userId: "resume" }, last: 1) { edges { cursor } } }');

    const stopped: unknown[] = [];
    resumeSubscription<Event>({ url: url(), apiKey: key, query: FEED, after: old, onEvent: () => undefined, onStopped: (r) => stopped.push(r), webSocketImpl: WebSocket });
    const expiries: unknown[] = [];
    const received: Event[] = [];
    const sub = resumeSubscription<Event>({
      url: url(),
      apiKey: key,
      query: FEED,
      after: old,
      onEvent: (e) => received.push(e),
      onStopped: (r) => stopped.push(r),
      onCursorExpired: async (errors) => {
        expiries.push(errors);
        return latest; // re-read: here, the newest stored event
      },
      webSocketImpl: WebSocket,
    });
    await waitFor(() => expiries.length === 1 && stopped.length === 1, 10000, 'the expiry and the stop');
    expect(JSON.stringify(expiries[0])).toContain('"code":"CURSOR_EXPIRED"');
    expect(JSON.stringify(stopped[0])).toContain('"code":"CURSOR_EXPIRED"');
    await deliver(5000);
    await waitFor(() => received.length >= 1, 10000, 'the event after the new cursor');
    await settle(300);
    sub.stop();
    expect(received.map((e) => e.callId)).toEqual([body(5000).CallId]);
    expect(expiries).toHaveLength(1);
  }, 30000);

  it('stops without a retry when the server refuses the key at connection_init (4403)', async () => {
    const stopped: { code?: number }[] = [];
    sockets = 0;
    resumeSubscription<Event>({ url: url(), apiKey: 'ctk_not-a-key', query: FEED, after: null, onEvent: () => undefined, onStopped: (r) => stopped.push(r as { code?: number }), webSocketImpl: CountingWebSocket, maxDelayMs: 200 });
    await waitFor(() => stopped.length > 0, 10000, 'the stop');
    await settle(1000);
    expect(stopped).toEqual([expect.objectContaining({ code: 4403 })]);
    expect(sockets).toBe(1);
  }, 30000);
});
