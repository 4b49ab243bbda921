import WebSocket from 'ws';
import type { Client } from 'graphql-ws';
import { ApiKeyRepository } from '../../src/api-keys/api-key.repository';
import { startTestApp, type TestApp } from '../support/app';
import { postCallback, T0 } from '../support/callbacks';
import { callEvents } from '../support/dataset';
import { createKey } from '../support/graphql';
import { collect, settle, wsClient } from '../support/ws';

const A = '1400000001';
const B = '1400000002';
let t: TestApp;
let keyA: string;
let keyB: string;
const clients: Client[] = [];
const client = (key: string | null, onClose?: (code: number, reason: string) => void) => {
  const c = wsClient(t.baseUrl, key, onClose);
  clients.push(c);
  return c;
};

const EVENTS = `subscription($f: CallEventFilter, $after: String) {
  callEventAdded(filter: $f, after: $after) { sdkAppId callId userId role event mediaType callType cursor } }`;

beforeAll(async () => {
  t = await startTestApp({ LIVE_MAX_SUBSCRIPTIONS: '3', WS_INIT_TIMEOUT_MS: '400', LIVE_POLL_MS: '200', WS_KEY_RECHECK_MS: '200' });
  keyA = await createKey(t.db.dataSource, 'a', [A]);
  keyB = await createKey(t.db.dataSource, 'b', [B]);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await t.stop();
});

/** Posts a call's callbacks over HTTP, in order. */
async function post(app: string, bodies: Record<string, unknown>[]) {
  for (const b of bodies) expect((await postCallback(t.baseUrl, b, { sdkAppId: app })).status).toBe(200);
}

describe('callEventAdded', () => {
  it('delivers events matching each filter, and only those of the key’s apps', async () => {
    const c = client(keyA);
    const subs = {
      all: collect(c, EVENTS),
      alice: collect(c, EVENTS, { f: { userId: 'Alice' } }),
      callee: collect(c, EVENTS, { f: { role: 'CALLEE' } }),
    };
    const c2 = client(keyA);
    const more = {
      video: collect(c2, EVENTS, { f: { mediaType: 'VIDEO' } }),
      group: collect(c2, EVENTS, { f: { callType: 'GROUP' } }),
      accepts: collect(c2, EVENTS, { f: { events: ['ACCEPT_CALL', 'CALL_ACCEPTED'] } }),
    };
    const onlyB = collect(client(keyB), EVENTS);
    const sneaky = collect(client(keyB), EVENTS, { f: { sdkAppId: A } });
    await settle(300);

    const one = callEvents({ callId: 's1', caller: 'Alice', callees: ['Bob'], start: T0, outcome: 'answered' }); // 7 events, audio single
    const group = callEvents({ callId: 's2', caller: 'Carol', callees: ['Bob', 'Dan'], media: 'video', type: 'group', start: T0 + 10, outcome: 'answered' }); // 10
    await post(A, one);
    await post(A, group);
    await post(B, callEvents({ callId: 'sb', caller: 'Alice', callees: ['Bob'], start: T0, outcome: 'missed' })); // 5 in app B

    await subs.all.waitFor(17);
    await onlyB.waitFor(5);
    await settle();
    expect(subs.all.items).toHaveLength(17);
    expect(subs.all.items.every((e) => e.sdkAppId === A)).toBe(true);
    expect(subs.alice.items.map((e) => `${e.callId}:${e.event}`)).toEqual(['s1:START_CALL', 's1:CALL_ACCEPTED', 's1:CALL_END', 's1:CALL_RESULT']);
    expect(subs.callee.items.every((e) => e.role === 'CALLEE')).toBe(true);
    expect(subs.callee.items).toHaveLength(3 + 6);
    expect(more.video.items).toHaveLength(10);
    expect(more.group.items.every((e) => e.callType === 'GROUP')).toBe(true);
    expect(more.accepts.items.map((e) => `${e.callId}:${e.event}`)).toEqual(['s1:ACCEPT_CALL', 's1:CALL_ACCEPTED', 's2:ACCEPT_CALL', 's2:ACCEPT_CALL', 's2:CALL_ACCEPTED']);
    expect(onlyB.items).toHaveLength(5);
    expect(onlyB.items.every((e) => e.sdkAppId === B)).toBe(true);
    expect(sneaky.items).toEqual([]);
    // positions increase along each stream
    const positions = subs.all.items.map((e) => BigInt(Buffer.from(e.cursor, 'base64url').toString().match(/\d+/)![0]));
    expect(positions).toEqual([...positions].sort((x, y) => (x < y ? -1 : 1)));
  });

  it('replays stored events after a cursor, then continues live', async () => {
    const c = client(keyA);
    const first = collect(c, EVENTS, { f: { callId: 'r1' } });
    await settle(200);
    const bodies = callEvents({ callId: 'r1', caller: 'Eve', callees: ['Fay'], start: T0, outcome: 'answered' });
    await post(A, bodies.slice(0, 3));
    await first.waitFor(3);
    first.stop();
    await post(A, bodies.slice(3, 6)); // missed while away
    const resumed = collect(c, EVENTS, { f: { callId: 'r1' }, after: first.items[2].cursor });
    await resumed.waitFor(3);
    await post(A, bodies.slice(6));
    await resumed.waitFor(4);
    await settle();
    expect(first.items.map((e) => e.event)).toEqual(['START_CALL', 'RECEIVE_CALL', 'ACCEPT_CALL']);
    expect(resumed.items.map((e) => e.event)).toEqual(['CALL_ACCEPTED', 'CALL_END', 'CALL_END', 'CALL_RESULT']);
    expect(new Set([...first.items, ...resumed.items].map((e) => e.cursor)).size).toBe(7);
  });

  it('refuses a malformed resume cursor with a clear error and keeps no subscription behind', async () => {
    const before = t.app.hub.subscriptions;
    const c = client(keyA);
    const sub = collect(c, EVENTS, { after: 'nope' });
    const huge = collect(c, EVENTS, { after: Buffer.from(JSON.stringify(['event', '9999999999999999999'])).toString('base64url') });
    await settle(300);
    expect(JSON.stringify(sub.errors)).toContain('after: expected an event cursor from this API, got \\"nope\\"');
    expect(JSON.stringify(huge.errors)).toContain('after: expected an event cursor');
    expect(JSON.stringify(huge.errors)).toContain('BAD_USER_INPUT');
    expect(t.app.hub.subscriptions).toBe(before);
  });
});

describe('callUpdated', () => {
  it("pushes a matching call's state after each change", async () => {
    const sub = collect(client(keyA), `subscription($f: CallFilter) { callUpdated(filter: $f) { callId status result participants { userId outcome } } }`, { f: { userId: 'Gus', role: 'CALLEE' } });
    const other = collect(client(keyB), `subscription { callUpdated { callId } }`);
    await settle(300);
    const bodies = callEvents({ callId: 'u1', caller: 'Hal', callees: ['Gus'], start: T0, outcome: 'answered' });
    await post(A, bodies.slice(0, 1)); // Gus is not in the call yet: no update for this filter
    await settle(300);
    expect(sub.items).toEqual([]);
    await post(A, bodies.slice(1, 2));
    await sub.waitFor(1);
    await post(A, bodies.slice(2, 4));
    await sub.waitFor(2);
    await post(A, bodies.slice(4));
    await settle();
    expect(sub.items.slice(0, 2).map((c) => c.status)).toEqual(['RINGING', 'ONGOING']);
    expect(sub.items.at(-1)).toEqual({ callId: 'u1', status: 'ENDED', result: 'NORMAL_END', participants: [{ userId: 'Hal', outcome: 'ENDED' }, { userId: 'Gus', outcome: 'ENDED' }] });
    expect(other.items).toEqual([]);
  });
});

describe('callUpdated board', () => {
  it('sends the update that takes a call out of a status filter, then nothing more about it', async () => {
    const board = collect(client(keyA), `subscription { callUpdated(filter: { status: [RINGING, ONGOING] }) { callId status } }`);
    await settle(300);
    const bodies = callEvents({ callId: 'board-1', caller: 'Ivy', callees: ['Jon'], start: T0, outcome: 'missed' });
    await post(A, bodies.slice(0, 2));
    await board.waitFor(1);
    await post(A, bodies.slice(2));
    await settle(500);
    const states = board.items.filter((c) => c.callId === 'board-1').map((c) => c.status);
    expect(states[0]).toBe('RINGING');
    expect(states.at(-1)).toBe('ENDED');
    expect(states.filter((st) => st === 'ENDED')).toHaveLength(1);
  });

  it('refuses role without userId, as queries do', async () => {
    const sub = collect(client(keyA), `subscription { callUpdated(filter: { role: CALLER }) { callId } }`);
    await settle(300);
    expect(JSON.stringify(sub.errors)).toContain('filter.role: expected together with filter.userId');
  });
});

describe('connection rules', () => {
  const closeOf = (key: string | null) =>
    new Promise<{ code: number; reason: string }>((resolve) => {
      const c = client(key, (code, reason) => resolve({ code, reason }));
      collect(c, EVENTS);
    });

  it('closes 4401 without a key and 4403 with a bad or revoked key', async () => {
    expect(await closeOf(null)).toMatchObject({ code: 4401, reason: expect.stringContaining('authorization') });
    expect((await closeOf('ctk_wrong')).code).toBe(4403);
  });

  it('closes an open connection 4403 once its key is revoked', async () => {
    const key = await createKey(t.db.dataSource, 'revoked-live', [A]);
    const closed = new Promise<{ code: number; reason: string }>((resolve) => {
      const c = client(key, (code, reason) => resolve({ code, reason }));
      collect(c, EVENTS);
    });
    await settle(300);
    await new ApiKeyRepository(t.db.dataSource).revoke('revoked-live');
    expect(await closed).toEqual({ code: 4403, reason: 'Forbidden: the API key is unknown or revoked' });
  });

  it('closes 4408 when connection_init does not arrive in time', async () => {
    const ws = new WebSocket(`${t.baseUrl.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    const code = await new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)));
    expect(code).toBe(4408);
  });

  it('limits subscriptions per connection', async () => {
    const c = client(keyA);
    const subs = [collect(c, EVENTS), collect(c, EVENTS), collect(c, EVENTS), collect(c, EVENTS)];
    await settle(300);
    expect(JSON.stringify(subs[3].errors)).toContain('subscriptions: expected at most 3 per connection');
    expect(subs.slice(0, 3).every((s) => s.errors.length === 0)).toBe(true);
  });

  it('applies query limits to subscriptions', async () => {
    const deep = `subscription { callUpdated { participants { call { participants { call { participants { call { participants { call { participants { call { id } } } } } } } } } } } }`;
    const sub = collect(client(keyA), deep);
    await settle(300);
    expect(JSON.stringify(sub.errors)).toMatch(/depth limit/i);
  });

  it('counts open connections and subscriptions in /metrics', async () => {
    const c = client(keyA);
    collect(c, EVENTS);
    await settle(300);
    const text = await (await fetch(`${t.baseUrl}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1]);
    expect(value('calltrail_ws_connections')).toBeGreaterThan(0);
    expect(value('calltrail_subscriptions')).toBeGreaterThan(0);
    expect(t.app.hub.subscriptions).toBe(value('calltrail_subscriptions'));
  });
});

it('answers a subscription sent over HTTP with a clear error', async () => {
  const res = await fetch(`${t.baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${keyA}` },
    body: JSON.stringify({ query: 'subscription { callEventAdded { id } }' }),
  });
  const body = (await res.json()) as { errors?: { message: string }[] };
  expect(body.errors?.[0].message).toMatch(/graphql-ws|subscription/i);
});
