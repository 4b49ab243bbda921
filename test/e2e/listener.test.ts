import WebSocket from 'ws';
import type { Client } from 'graphql-ws';
import { startTestApp, type TestApp } from '../support/app';
import { makeCallback, postCallback } from '../support/callbacks';
import { createKey } from '../support/graphql';
import { collect, settle, wsClient } from '../support/ws';

// A catch-up poll of one minute: anything delivered sooner came through LISTEN/NOTIFY.
let t: TestApp;
let key: string;
const clients: Client[] = [];
beforeAll(async () => {
  t = await startTestApp({ LIVE_POLL_MS: '60000' });
  key = await createKey(t.db.dataSource, 'k', null);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await t.stop();
});

const EVENTS = `subscription($f: CallEventFilter) { callEventAdded(filter: $f) { callId userId } }`;
const listenerPids = async () =>
  (await t.db.dataSource.query(`SELECT pid FROM pg_stat_activity WHERE application_name = 'calltrail-listener' AND datname = current_database()`)).map((r: { pid: number }) => r.pid);

describe('the LISTEN connection', () => {
  it('wakes subscribers within moments of a commit', async () => {
    const c = wsClient(t.baseUrl, key);
    clients.push(c);
    const sub = collect(c, EVENTS, { f: { callId: 'n1' } });
    await settle(200);
    const sent = Date.now();
    await postCallback(t.baseUrl, makeCallback({ CallId: 'n1' }));
    await sub.waitFor(1, 3000);
    expect(Date.now() - sent).toBeLessThan(3000);
  });

  it('reconnects by itself after its connection is killed, and catches up on what it missed', async () => {
    const c = wsClient(t.baseUrl, key);
    clients.push(c);
    const sub = collect(c, EVENTS, { f: { callId: 'n2' } });
    await settle(200);
    const [pid] = await listenerPids();
    expect(pid).toBeDefined();
    await t.db.dataSource.query('SELECT pg_terminate_backend($1)', [pid]);
    await postCallback(t.baseUrl, makeCallback({ CallId: 'n2', UserId: 'while-down' })); // may be committed before LISTEN is back
    for (let i = 0; i < 40 && (await listenerPids()).length === 0; i++) await settle(100);
    const [again] = await listenerPids();
    expect(again).toBeDefined();
    expect(again).not.toBe(pid);
    await postCallback(t.baseUrl, makeCallback({ CallId: 'n2', UserId: 'after' }));
    await sub.waitFor(2, 3000);
    expect(sub.items.map((e) => e.userId)).toEqual(['while-down', 'after']);
  });
});

describe('message size', () => {
  it('closes a connection that sends a message over 64 KiB (1009)', async () => {
    const ws = new WebSocket(`${t.baseUrl.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    await new Promise((r) => ws.once('open', r));
    const code = new Promise<number>((resolve) => ws.once('close', (c) => resolve(c)));
    ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}`, padding: 'x'.repeat(70 * 1024) } }));
    expect(await code).toBe(1009);
  });
});
