import WebSocket from 'ws';
import type { Client } from 'graphql-ws';
import { eventPosition } from '../../src/domain/cursor';
import { startTestApp, type TestApp } from '../support/app';
import { makeCallback, postCallback, T0 } from '../support/callbacks';
import { createKey, seed } from '../support/graphql';
import { collect, settle, wsClient } from '../support/ws';

/**
 * Subscriptions that share a document and variables share one execution per event (src/live/live-groups.ts).
 * What must not change: each key sees only its apps, each subscription gets its own id, a member of a
 * group resumes alone, and a member that cannot keep up is cut alone.
 */
const A = '1400000001';
const B = '1400000002';
const FLOOD = '1400000003';
const EVENTS = `subscription($f: CallEventFilter, $after: String) { callEventAdded(filter: $f, after: $after) { sdkAppId callId userId event cursor } }`;
let t: TestApp;
let keyA: string;
let keyB: string;
let keyAB: string;
let keyAll: string;
const clients: Client[] = [];
const sockets: WebSocket[] = [];
const client = (key: string) => {
  const c = wsClient(t.baseUrl, key);
  clients.push(c);
  return c;
};
const position = (cursor: string) => BigInt(eventPosition('cursor', cursor));
const inOrder = (cursors: string[]) => cursors.every((c, i) => i === 0 || position(cursors[i - 1]) < position(c));

beforeAll(async () => {
  t = await startTestApp({ LIVE_POLL_MS: '200' });
  keyA = await createKey(t.db.dataSource, 'a', [A]);
  keyB = await createKey(t.db.dataSource, 'b', [B]);
  keyAB = await createKey(t.db.dataSource, 'ab', [A, B]);
  keyAll = await createKey(t.db.dataSource, 'all', null);
});
afterAll(async () => {
  sockets.forEach((s) => s.terminate());
  await Promise.all(clients.map((c) => c.dispose()));
  await t.stop();
});

async function post(app: string, callId: string, users: string[]) {
  for (const [i, UserId] of users.entries()) {
    const body = makeCallback({ CallId: callId, UserId, Role: 'callee', Event: 'receive_call', EventTime: T0 + i });
    expect((await postCallback(t.baseUrl, body, { sdkAppId: app })).status).toBe(200);
  }
}

/** A raw graphql-transport-ws socket: every message as received, text and all. */
async function rawSocket(key: string) {
  const ws = new WebSocket(`${t.baseUrl.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
  sockets.push(ws);
  const messages: string[] = [];
  let closed: { code: number; reason: string } | null = null;
  ws.on('message', (data) => messages.push(String(data)));
  ws.on('close', (code, reason) => (closed = { code, reason: reason.toString() }));
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } }));
  for (let i = 0; i < 50 && !messages.some((m) => m.includes('connection_ack')); i++) await settle(20);
  return {
    ws,
    messages,
    closed: () => closed as { code: number; reason: string } | null,
    subscribe: (id: string, query: string, variables: Record<string, unknown> = {}) => ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } })),
  };
}

it('gives keys of different scopes that subscribe with the same document and variables only their own apps’ events', async () => {
  const groupsBefore = t.app.hub.groups;
  const variables = { f: { callId: 'tenancy' } };
  const onlyA = [collect(client(keyA), EVENTS, variables), collect(client(keyA), EVENTS, variables)];
  const onlyB = collect(client(keyB), EVENTS, variables);
  const both = collect(client(keyAB), EVENTS, variables);
  await settle(300);
  expect(t.app.hub.groups - groupsBefore).toBe(3); // one per scope: the two A keys' subscriptions share one

  await post(A, 'tenancy', ['a1', 'a2']);
  await post(B, 'tenancy', ['b1']);
  await post(A, 'tenancy', ['a3']);
  await both.waitFor(4);
  await settle();
  for (const sub of onlyA) expect(sub.items.map((e) => `${e.sdkAppId}:${e.userId}`)).toEqual([`${A}:a1`, `${A}:a2`, `${A}:a3`]);
  expect(onlyB.items.map((e) => `${e.sdkAppId}:${e.userId}`)).toEqual([`${B}:b1`]);
  expect(both.items.map((e) => e.userId)).toEqual(['a1', 'a2', 'b1', 'a3']);
});

it('sends each subscription of a shared execution its own id, in messages exactly as graphql-ws frames them', async () => {
  const socket = await rawSocket(keyA);
  const query = `subscription($f: CallEventFilter) { callEventAdded(filter: $f) { userId event } }`;
  socket.subscribe('first', query, { f: { callId: 'ids' } });
  socket.subscribe('second', query, { f: { callId: 'ids' } });
  socket.subscribe('"quoted" \u00e9', query, { f: { callId: 'ids' } });
  socket.subscribe('aliased', `subscription { e: callEventAdded(filter: { callId: "ids" }) { userId } }`);
  const parsed = () => socket.messages.map((text) => ({ text, msg: JSON.parse(text) as { id: string; type: string; payload: unknown } }));
  const of = (id: string) => parsed().filter((p) => p.msg.id === id).map((p) => p.msg.payload);
  await settle(300);
  await post(A, 'ids', ['u1']);
  for (let i = 0; i < 100 && of('aliased').length < 1; i++) await settle(20); // the hub is past u1
  socket.subscribe('late', query, { f: { callId: 'ids' } });
  await settle(200);
  await post(A, 'ids', ['u2']);
  for (let i = 0; i < 100 && socket.messages.length < 10; i++) await settle(20);
  await settle();

  for (const { text, msg } of parsed()) expect(text).toBe(JSON.stringify({ id: msg.id, type: msg.type, payload: msg.payload }));
  const event = (userId: string) => ({ data: { callEventAdded: { userId, event: 'RECEIVE_CALL' } } });
  expect(of('first')).toEqual([event('u1'), event('u2')]);
  expect(of('second')).toEqual([event('u1'), event('u2')]);
  expect(of('"quoted" \u00e9')).toEqual([event('u1'), event('u2')]);
  expect(of('aliased')).toEqual([{ data: { e: { userId: 'u1' } } }, { data: { e: { userId: 'u2' } } }]);
  expect(of('late')).toEqual([event('u2')]);
  expect(parsed().every((p) => p.msg.type === 'next' || p.msg.type === 'connection_ack')).toBe(true);

  socket.ws.send(JSON.stringify({ id: 'first', type: 'complete' }));
  await settle(200);
  await post(A, 'ids', ['u3']);
  for (let i = 0; i < 100 && of('second').length < 3; i++) await settle(20);
  expect(of('first')).toHaveLength(2);
  expect(of('second')).toHaveLength(3);
});

it('executes nested fields (read through the scope’s loaders, asynchronously) once for the group, in order', async () => {
  const query = `subscription { callEventAdded(filter: { callId: "nested" }) { userId call { callId status } } }`;
  const subs = [collect(client(keyA), query), collect(client(keyA), query)];
  await settle(300);
  await post(A, 'nested', ['n1', 'n2', 'n3']);
  for (const sub of subs) await sub.waitFor(3);
  for (const sub of subs) {
    expect(sub.items.map((e) => e.userId)).toEqual(['n1', 'n2', 'n3']);
    expect(sub.items.every((e) => e.call?.callId === 'nested' && e.call.status === 'RINGING')).toBe(true);
  }
});

it('resumes one member of a shared group from its cursor, alone, while the others stay live', async () => {
  const variables = { f: { callId: 'resume-shared' } };
  const live = collect(client(keyA), EVENTS, variables);
  const away = collect(client(keyA), EVENTS, variables);
  await settle(300);
  await post(A, 'resume-shared', ['r0', 'r1']);
  await away.waitFor(2);
  away.stop();
  await post(A, 'resume-shared', ['r2', 'r3', 'r4']); // missed by `away`
  const resumed = collect(client(keyA), EVENTS, { ...variables, after: away.items[1].cursor });
  await resumed.waitFor(3);
  await post(A, 'resume-shared', ['r5']);
  await resumed.waitFor(4);
  await live.waitFor(6);
  await settle();
  expect(away.items.map((e) => e.userId)).toEqual(['r0', 'r1']);
  expect(resumed.items.map((e) => e.userId)).toEqual(['r2', 'r3', 'r4', 'r5']);
  expect(live.items.map((e) => e.userId)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
});

it('cuts a member of a shared group that stops reading with 4290, and its group-mate gets every event', async () => {
  const query = `subscription($f: CallEventFilter) { callEventAdded(filter: $f) { id cursor sdkAppId callId userId role event rawEvent callType mediaType eventTime receivedAt platform clientIp } }`;
  const variables = { f: { sdkAppId: FLOOD } };
  const socket = await rawSocket(keyAll);
  socket.subscribe('1', query, variables);
  const mate = collect(client(keyAll), query, variables);
  await settle(300);
  (socket.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();

  // Seed until the server has cut the paused member (the socket buffers take a few MiB first), in
  // chunks the mate reads before the next: it is in this busy process and must not fall behind too.
  const subscribed = t.app.hub.subscriptions;
  const long = 'x'.repeat(200); // messages of about 1 KiB: the socket buffers fill with fewer events
  let total = 0;
  for (; total < 40000 && t.app.hub.subscriptions === subscribed; total += 500) {
    const bodies = Array.from({ length: 500 }, (_, k) => total + k).map((i) => makeCallback({ CallId: `${long}-${i % 2000}`, UserId: `${long}-${i}`, Role: 'callee', Event: 'receive_call', EventTime: T0 + i }));
    await seed(t.db.dataSource, FLOOD, bodies);
    await mate.waitFor(total + 500, 20000);
  }
  (socket.ws as unknown as { _socket: { resume(): void } })._socket.resume();
  for (let i = 0; i < 100 && socket.closed() === null; i++) await settle(100);

  expect(socket.closed()?.code).toBe(4290);
  const cursor = /after=(\S+)$/.exec(socket.closed()!.reason)?.[1];
  const received = socket.messages.filter((m) => m.includes('"type":"next"')).map((m) => JSON.parse(m).payload.data.callEventAdded.cursor as string);
  expect(received.length).toBeLessThan(total);
  expect(received.at(-1)).toBe(cursor); // the cursor is the last message written before the cut
  expect(inOrder(received)).toBe(true);
  const mates = mate.items.map((e) => e.cursor as string);
  expect(mates).toHaveLength(total);
  expect(inOrder(mates)).toBe(true);
  expect(mates.slice(0, received.length)).toEqual(received);
}, 120000);
