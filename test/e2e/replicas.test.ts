import WebSocket from 'ws';
import type { Client } from 'graphql-ws';
import { eventPosition } from '../../src/domain/cursor';
import { startTestApp, type TestApp } from '../support/app';
import { makeCallback, postCallback, T0 } from '../support/callbacks';
import { createKey, seed } from '../support/graphql';
import { scrape } from '../support/metrics';
import { collect, settle, startProcess, wsClient } from '../support/ws';

const A = '1400000001';
const B = '1400000002';
const FLOOD = '1400000009';
let one: TestApp; // in this process
let two: Awaited<ReturnType<typeof startProcess>>; // the real entry point, another OS process
let keyA: string;
let keyAll: string;
const clients: Client[] = [];
const client = (baseUrl: string, key: string) => {
  const c = wsClient(baseUrl, key);
  clients.push(c);
  return c;
};
const EVENTS = `subscription($f: CallEventFilter, $after: String) { callEventAdded(filter: $f, after: $after) { sdkAppId callId userId event cursor } }`;
/** Every field of an event: large messages fill the socket buffers sooner. */
const WIDE = `subscription($f: CallEventFilter) { callEventAdded(filter: $f) { id cursor sdkAppId callId userId role event rawEvent callType mediaType callResult eventTime receivedAt platform clientIp } }`;
const position = (cursor: string) => BigInt(eventPosition('cursor', cursor));
const inOrder = (cursors: string[]) => cursors.every((c, i) => i === 0 || position(cursors[i - 1]) < position(c));

beforeAll(async () => {
  one = await startTestApp({ LIVE_POLL_MS: '500' });
  two = await startProcess({ DATABASE_URL: one.db.url, LIVE_POLL_MS: '500', SDKAPPIDS: `${A},${B}` });
  keyA = await createKey(one.db.dataSource, 'a', [A]);
  keyAll = await createKey(one.db.dataSource, 'all', null);
}, 60000);
afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await two?.stop();
  await one?.stop();
});

describe('two calltrail processes on one database', () => {
  it('delivers a callback posted to one process to a subscriber on the other', async () => {
    const onOne = collect(client(one.baseUrl, keyA), EVENTS, { f: { callId: 'x1' } });
    const onTwo = collect(client(two.baseUrl, keyA), EVENTS, { f: { callId: 'x1' } });
    await settle(300);
    expect((await postCallback(two.baseUrl, makeCallback({ CallId: 'x1' }), { sdkAppId: A })).status).toBe(200);
    expect((await postCallback(one.baseUrl, makeCallback({ CallId: 'x1', UserId: 'Bob', Role: 'callee', Event: 'receive_call' }), { sdkAppId: A })).status).toBe(200);
    await onOne.waitFor(2, 5000);
    await onTwo.waitFor(2, 5000);
    expect(onOne.items.map((e) => e.event)).toEqual(['START_CALL', 'RECEIVE_CALL']);
    expect(onTwo.items).toEqual(onOne.items);
  });

  it('gives every subscriber every matching event exactly once, in position order, under concurrent writers on both', async () => {
    const subs = [
      collect(client(one.baseUrl, keyAll), EVENTS, { f: { userId: 'load' } }),
      collect(client(two.baseUrl, keyAll), EVENTS, { f: { userId: 'load' } }),
      collect(client(two.baseUrl, keyA), EVENTS, { f: { userId: 'load' } }),
    ];
    await settle(300);
    const total = 2000;
    let next = 0;
    const statuses: number[] = [];
    const writer = (baseUrl: string) => async () => {
      while (next < total) {
        const i = next++;
        const res = await postCallback(baseUrl, makeCallback({ CallId: `load-${i % 100}`, UserId: 'load', Event: 'receive_call', Role: 'callee', EventTime: T0 + i }), { sdkAppId: i % 2 ? A : B });
        statuses.push(res.status);
      }
    };
    await Promise.all([...Array.from({ length: 16 }, writer(one.baseUrl)), ...Array.from({ length: 16 }, writer(two.baseUrl))]);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    await subs[0].waitFor(total, 30000);
    await subs[1].waitFor(total, 30000);
    await subs[2].waitFor(total / 2, 30000);
    await settle(700);
    for (const [i, sub] of subs.entries()) {
      const cursors = sub.items.map((e) => e.cursor);
      expect(cursors).toHaveLength(i === 2 ? total / 2 : total);
      expect(new Set(cursors).size).toBe(cursors.length);
      expect(inOrder(cursors)).toBe(true);
    }
    expect(subs[2].items.every((e) => e.sdkAppId === A)).toBe(true);
    expect(subs[1].items.map((e) => e.cursor)).toEqual(subs[0].items.map((e) => e.cursor));
  }, 90000);

  it('resumes a subscriber that was away with exactly the missed events, in order, then live ones', async () => {
    const filter = { callId: 'away' };
    const first = collect(client(one.baseUrl, keyA), EVENTS, { f: filter });
    await settle(300);
    const post = (i: number, baseUrl: string) =>
      postCallback(baseUrl, makeCallback({ CallId: 'away', UserId: `u${i}`, Role: 'callee', Event: 'receive_call', EventTime: T0 + i }), { sdkAppId: A });
    for (let i = 0; i < 5; i++) await post(i, one.baseUrl);
    await first.waitFor(5, 5000);
    first.stop();
    await Promise.all(Array.from({ length: 40 }, (_, i) => post(5 + i, i % 2 ? one.baseUrl : two.baseUrl))); // missed
    const resumed = collect(client(two.baseUrl, keyA), EVENTS, { f: filter, after: first.items[4].cursor });
    await resumed.waitFor(40, 10000);
    for (let i = 45; i < 50; i++) await post(i, one.baseUrl); // live
    await resumed.waitFor(45, 10000);
    await settle();
    const all = [...first.items, ...resumed.items];
    expect(all.map((e) => e.userId).sort()).toEqual(Array.from({ length: 50 }, (_, i) => `u${i}`).sort());
    expect(new Set(all.map((e) => e.cursor)).size).toBe(50);
    expect(inOrder(all.map((e) => e.cursor))).toBe(true);
    expect(resumed.items.slice(40).map((e) => e.userId)).toEqual(['u45', 'u46', 'u47', 'u48', 'u49']);
  }, 30000);

  it('cuts off a slow consumer with 4290 and a cursor it can resume from without loss', async () => {
    // A raw graphql-ws client that stops reading its socket; once the kernel buffers are full the
    // server's queue (LIVE_QUEUE_MAX, 1000 by default) overflows.
    const cutsBefore = (await scrape(two.baseUrl)).value('calltrail_live_slow_consumer_closes_total');
    const ws = new WebSocket(`${two.baseUrl.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    const received: string[] = [];
    let closed: { code: number; reason: string } | null = null;
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data));
      if (msg.type === 'connection_ack') {
        ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: WIDE, variables: { f: { sdkAppId: FLOOD } } } }));
      }
      if (msg.type === 'next') received.push(msg.payload.data.callEventAdded.cursor);
    });
    ws.on('close', (code, reason) => (closed = { code, reason: reason.toString() }));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${keyAll}` } }));
    await settle(300);
    (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();

    const total = 25000;
    const padding = 'x'.repeat(300);
    const bodies = Array.from({ length: total }, (_, i) => makeCallback({ CallId: `flood-${i % 2500}`, UserId: `f${i}`, Role: 'callee', Event: 'receive_call', EventTime: T0 + i, Padding: padding }));
    await seed(one.db.dataSource, FLOOD, bodies);
    await settle(2000);
    (ws as unknown as { _socket: { resume(): void } })._socket.resume();
    for (let i = 0; i < 100 && closed === null; i++) await settle(100);
    expect(closed).not.toBeNull();
    const { code, reason } = closed as unknown as { code: number; reason: string };
    expect(code).toBe(4290);
    expect((await scrape(two.baseUrl)).value('calltrail_live_slow_consumer_closes_total') - cutsBefore).toBe(1);
    const cursor = /after=(\S+)$/.exec(reason)?.[1] as string;
    expect(cursor).toBeDefined();
    expect(received.length).toBeLessThan(total);
    // The cursor is the last event surely sent: what we received ends with it, or with the one in flight after it.
    expect(received.slice(-2)).toContain(cursor);

    const resumed = collect(client(two.baseUrl, keyAll), EVENTS, { f: { sdkAppId: FLOOD }, after: cursor });
    const upTo = received.indexOf(cursor) + 1;
    await resumed.waitFor(total - upTo, 30000);
    const all = [...received.slice(0, upTo), ...resumed.items.map((e) => e.cursor)];
    expect(all).toHaveLength(total);
    expect(new Set(all).size).toBe(total);
    expect(inOrder(all)).toBe(true);
  }, 60000);
});
