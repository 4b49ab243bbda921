import type { LiveCallRecord } from '../calls/live.repository';
import type { CallEventRecord } from '../calls/records';
import { ALL_APPS, type AppScope } from '../domain/app-scope';
import type { CallKey } from '../domain/call-key';
import type { CallEventFilter } from '../domain/filters';
import { LiveHub, type LiveSource } from './live-hub';

const ev = (position: number, over: Partial<CallEventRecord> = {}): CallEventRecord => ({
  position: String(position),
  sdkAppId: '1',
  callId: `c${position}`,
  userId: 'alice',
  role: 'CALLER',
  type: 'START_CALL',
  rawEvent: 'start_call',
  callType: 'SINGLE',
  mediaType: 'AUDIO',
  callResult: null,
  eventTime: new Date(0),
  receivedAt: new Date(0),
  platform: null,
  clientIp: null,
  ...over,
});

/** An event log in memory, read the way LiveRepository reads PostgreSQL; counts the reads. */
class FakeSource implements LiveSource {
  readonly log: CallEventRecord[] = [];
  reads = 0;
  failNextRead = false;
  calls: LiveCallRecord[] = [];

  async headPosition(): Promise<string> {
    return this.log.at(-1)?.position ?? '0';
  }
  async eventsAfter(position: string, limit: number): Promise<CallEventRecord[]> {
    this.reads++;
    if (this.failNextRead) {
      this.failNextRead = false;
      throw new Error('connection lost');
    }
    return this.log.filter((e) => BigInt(e.position) > BigInt(position)).slice(0, limit);
  }
  async callsWithParticipants(keys: readonly CallKey[]): Promise<LiveCallRecord[]> {
    return this.calls.filter((c) => keys.some((k) => k.sdkAppId === c.sdkAppId && k.callId === c.callId));
  }
  async replay(scope: AppScope, _filter: CallEventFilter | null | undefined, after: string, limit: number): Promise<readonly CallEventRecord[]> {
    return this.log.filter((e) => BigInt(e.position) > BigInt(after) && (scope.all || scope.apps.includes(e.sdkAppId))).slice(0, limit);
  }
}

const settle = () => new Promise((r) => setTimeout(r, 5));
const start = async (source: FakeSource, queueMax = 100) => {
  const hub = new LiveHub(source, { queueMax, pollMs: 60_000, readBatch: 2 });
  await hub.start();
  return hub;
};
const take = async (it: AsyncIterator<CallEventRecord>, n: number) => {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await it.next()).value.position);
  return out;
};

describe('LiveHub', () => {
  it('reads new events once per wake-up for all subscribers, in pages of readBatch', async () => {
    const source = new FakeSource();
    const hub = await start(source);
    const subs = [1, 2, 3].map(() => hub.subscribeEvents(ALL_APPS, null, null, () => undefined));
    source.log.push(ev(1), ev(2), ev(3));
    hub.wake();
    await settle();
    for (const s of subs) expect(await take(s, 3)).toEqual(['1', '2', '3']);
    expect(source.reads).toBe(2); // [1, 2] then [3]: a short page ends the read
    await hub.stop();
  });

  it('delivers only what a subscriber’s scope and filter allow', async () => {
    const source = new FakeSource();
    const hub = await start(source);
    const appTwo = hub.subscribeEvents({ all: false, apps: ['2'] }, null, null, () => undefined);
    const bob = hub.subscribeEvents(ALL_APPS, { userId: 'bob' }, null, () => undefined);
    source.log.push(ev(1), ev(2, { sdkAppId: '2' }), ev(3, { userId: 'bob' }));
    hub.wake();
    await settle();
    expect(await take(appTwo, 1)).toEqual(['2']);
    expect(await take(bob, 1)).toEqual(['3']);
    await hub.stop();
  });

  it('replays stored events after the cursor, then live ones, with no gap and no duplicate', async () => {
    const source = new FakeSource();
    source.log.push(ev(1), ev(2), ev(3));
    const hub = await start(source);
    const stream = hub.subscribeEvents(ALL_APPS, null, '1', () => undefined);
    source.log.push(ev(4));
    hub.wake();
    await settle();
    expect(await take(stream, 3)).toEqual(['2', '3', '4']);
    await hub.stop();
  });

  it('heals a failed read at the next wake-up without losing events', async () => {
    const source = new FakeSource();
    const errors: unknown[] = [];
    const hub = new LiveHub(source, { queueMax: 100, pollMs: 60_000, readBatch: 10, onError: (e) => errors.push(e) });
    await hub.start();
    const stream = hub.subscribeEvents(ALL_APPS, null, null, () => undefined);
    source.log.push(ev(1));
    source.failNextRead = true;
    hub.wake();
    await settle();
    expect(errors).toHaveLength(1);
    hub.wake();
    await settle();
    expect(await take(stream, 1)).toEqual(['1']);
    await hub.stop();
  });

  it('cuts a subscriber that falls more than queueMax behind, with the cursor of the last event it was sent', async () => {
    const source = new FakeSource();
    const hub = await start(source, 2);
    const cursors: string[] = [];
    const slow = hub.subscribeEvents(ALL_APPS, null, null, (cursor) => cursors.push(cursor));
    source.log.push(ev(1), ev(2), ev(3), ev(4));
    hub.wake();
    await settle();
    expect(cursors).toHaveLength(1);
    expect(hub.subscriptions).toBe(0);
    expect(await slow.next()).toMatchObject({ done: true });
    await hub.stop();
  });

  it('forgets a subscriber that returns', async () => {
    const source = new FakeSource();
    const hub = await start(source);
    const stream = hub.subscribeEvents(ALL_APPS, null, null, () => undefined);
    expect(hub.subscriptions).toBe(1);
    await stream.return?.();
    expect(hub.subscriptions).toBe(0);
    await hub.stop();
  });
});

describe('LiveHub, shared rendering', () => {
  /** A renderer that counts its renderings; every subscription it serves shares its key. */
  const counting = () => {
    const rendered: string[] = [];
    return { rendered, renderer: { key: 'selection', render: (e: CallEventRecord) => (rendered.push(e.position), `${e.sdkAppId}:${e.position}`) } };
  };
  /** An outlet that takes every entry as soon as it is ready, as a socket that keeps up would. */
  const reader = () => {
    const got: string[] = [];
    return { got, outlet: { ready: (sub: { take(): { value?: string } | null }) => { for (let e = sub.take(); e; e = sub.take()) got.push(e.value!); } } };
  };

  it('renders each event once for all the subscriptions that share a scope, a filter and a renderer key', async () => {
    const source = new FakeSource();
    const hub = await start(source);
    const { rendered, renderer } = counting();
    const readers = [reader(), reader(), reader()];
    for (const r of readers) hub.deliverEvents(ALL_APPS, null, null, () => undefined, { renderer, outlet: r.outlet });
    source.log.push(ev(1), ev(2));
    hub.wake();
    await settle();
    expect(rendered).toEqual(['1', '2']);
    for (const r of readers) expect(r.got).toEqual(['1:1', '1:2']);
    expect(hub.groups).toBe(1);
    await hub.stop();
  });

  it('never shares across scopes: the same renderer key under two scopes gives each only its apps', async () => {
    const source = new FakeSource();
    const hub = await start(source);
    const { rendered, renderer } = counting();
    const [one, two] = [reader(), reader()];
    hub.deliverEvents({ all: false, apps: ['1'] }, null, null, () => undefined, { renderer, outlet: one.outlet });
    hub.deliverEvents({ all: false, apps: ['2'] }, null, null, () => undefined, { renderer, outlet: two.outlet });
    source.log.push(ev(1), ev(2, { sdkAppId: '2' }), ev(3));
    hub.wake();
    await settle();
    expect(one.got).toEqual(['1:1', '1:3']);
    expect(two.got).toEqual(['2:2']);
    expect(rendered).toEqual(['1', '2', '3']);
    expect(hub.groups).toBe(2);
    await hub.stop();
  });

  it('cuts the member of a group that does not read, and the others go on', async () => {
    const source = new FakeSource();
    const hub = await start(source, 2);
    const { renderer } = counting();
    const fast = reader();
    const cursors: string[] = [];
    const slow = hub.deliverEvents(ALL_APPS, null, null, (cursor) => cursors.push(cursor), { renderer, outlet: { ready: () => undefined } });
    hub.deliverEvents(ALL_APPS, null, null, () => undefined, { renderer, outlet: fast.outlet });
    source.log.push(ev(1), ev(2), ev(3), ev(4));
    hub.wake();
    await settle();
    expect(cursors).toHaveLength(1);
    expect(await slow.next()).toEqual({ value: undefined, done: true });
    expect(fast.got).toEqual(['1:1', '1:2', '1:3', '1:4']);
    expect(hub.subscriptions).toBe(1);
    await hub.stop();
  });

  it('replays for a resuming member alone, then serves it the group\'s renderings', async () => {
    const source = new FakeSource();
    source.log.push(ev(1), ev(2), ev(3));
    const hub = await start(source);
    const { rendered, renderer } = counting();
    const [live, resumed] = [reader(), reader()];
    hub.deliverEvents(ALL_APPS, null, null, () => undefined, { renderer, outlet: live.outlet });
    hub.deliverEvents(ALL_APPS, null, '1', () => undefined, { renderer, outlet: resumed.outlet });
    await settle(); // the replay is done
    source.log.push(ev(4));
    hub.wake();
    await settle();
    expect(live.got).toEqual(['1:4']);
    expect(resumed.got).toEqual(['1:2', '1:3', '1:4']);
    expect(rendered).toEqual(['2', '3', '4']); // the replayed two for the resuming member, 4 once for both
    await hub.stop();
  });
});
