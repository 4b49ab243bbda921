import { makeCallback, SDKAPPID } from '../../test/support/callbacks';
import { makeMemberChanged, makeStartCall } from '../../test/support/callbacks-v4';
import type { EventWindow } from '../domain/partition-ranges';
import { callbackQuery } from './archive-line';
import type { Refusal, QuarantineService } from '../quarantine/quarantine.service';
import { BatchWriter, type EventStore, type SpoolSink } from './batch-writer';
import type { WriteResult } from './ingest.repository';
import { IngestService, type IngestRequest } from './ingest.service';
import type { CallbackEvent } from './trtc-v1.schema';

/** A store in memory that dedupes on the app and key, and fails as told. */
class FakeStore implements EventStore {
  readonly events = new Map<string, CallbackEvent>();
  fail: ((events: readonly CallbackEvent[]) => unknown) | null = null;
  get keys(): Set<string> {
    return new Set([...this.events.values()].map((e) => e.dedupeKey));
  }
  async writeBatch(events: readonly CallbackEvent[]): Promise<WriteResult[]> {
    const error = this.fail?.(events);
    if (error) throw error;
    return events.map((e) => (this.events.has(`${e.sdkAppId}/${e.dedupeKey}`) ? 'duplicate' : (this.events.set(`${e.sdkAppId}/${e.dedupeKey}`, e), 'stored')));
  }
  /** What storedEventBody reads from call_events: the event of that app, key and time. */
  readonly storedBody = async (sdkAppId: string, dedupeKey: string, eventTime: number) => {
    const e = this.events.get(`${sdkAppId}/${dedupeKey}`);
    return e !== undefined && e.eventTime === eventTime ? e.body : null;
  };
}

function setup(window?: () => EventWindow | null, maxBatch = 500) {
  const store = new FakeStore();
  const spooled: CallbackEvent[] = [];
  const spool: SpoolSink = { append: async (events) => void spooled.push(...events) };
  const kept: Refusal[] = [];
  const quarantine = { keep: async (r: Refusal) => void kept.push(r) } as unknown as QuarantineService;
  const writer = new BatchWriter(store, { maxBatch, timeoutMs: 1000, maxPending: 1000, spool, window });
  const service = new IngestService({ sdkAppIds: null, secret: null, signToken: null, signWindowSeconds: 300 }, writer, quarantine, undefined, store.storedBody);
  return { store, spooled, kept, service };
}

const request = (body: object, query: Record<string, string>): IngestRequest => {
  const rawBody = Buffer.from(JSON.stringify(body));
  return { query: { sdkappid: SDKAPPID, ...query }, queryString: '', rawBody, bodyBytes: rawBody.length, contentEncoding: null, source: '127.0.0.1' };
};
const v4 = () => request(makeMemberChanged([['Bob', 'Accept'], ['Carol', 'Join']]), { callbackcommand: 'Call.CallbackAfterMemberChanged' });

describe('IngestService with v1 and v4 callbacks', () => {
  it('stores a v1 callback as one event', async () => {
    const { store, service } = setup();
    await expect(service.receive(request(makeCallback(), { command: 'caller_start_call' }))).resolves.toBe('stored');
    expect(store.keys.size).toBe(1);
  });

  it('stores every event of a v4 callback and answers duplicate to its redelivery', async () => {
    const { store, service } = setup();
    await expect(service.receive(v4())).resolves.toBe('stored');
    await expect(service.receive(v4())).resolves.toBe('duplicate');
    expect([...store.keys].map((k) => k.split(':')[1])).toEqual(['0', '1']);
  });

  it('answers spooled when the database cannot take a v4 callback, with every event in the spool', async () => {
    const { store, spooled, service } = setup();
    store.fail = () => Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
    await expect(service.receive(v4())).resolves.toBe('spooled');
    expect(spooled.map((e) => [e.userId, e.type])).toEqual([['Bob', 'MEMBER_ACCEPTED'], ['Carol', 'MEMBER_JOINED']]);
  });

  it('answers a v4 callback with the refusal of an event PostgreSQL refused, keeps it in quarantine once, and stores the rest', async () => {
    const { store, kept, service } = setup();
    store.fail = (events) => (events.some((e) => e.userId === 'Carol') ? Object.assign(new Error('out of range'), { code: '22003' }) : null);
    await expect(service.receive(v4())).rejects.toMatchObject({ code: 'INVALID_FIELD' });
    expect(kept.map((r) => r.errorCode)).toEqual(['INVALID_FIELD']);
    expect(store.keys.size).toBe(1);
  });
});

describe('IngestService replaying the spool', () => {
  const NOW = 2_000_000_000;
  const DAY = 86_400;
  const around = (now: number): EventWindow => ({ earliest: now - 30 * DAY, latest: now + DAY });
  /** The request `npm run quarantine -- replay` makes of a kept refusal. */
  const replayOf = (r: Refusal): IngestRequest => ({
    query: callbackQuery(r.queryString),
    queryString: r.queryString,
    rawBody: r.body,
    bodyBytes: r.bodyBytes,
    contentEncoding: null,
    source: 'quarantine-replay',
  });

  /** A v4 callback acknowledged into the spool, then refused when replayed with the clock two days back. */
  async function refusedOnReplay(body: Record<string, unknown>, split: boolean): Promise<Refusal[]> {
    let now = NOW;
    const { store, spooled, kept, service } = setup(() => around(now));
    store.fail = () => Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
    await expect(service.receive(request(body, { callbackcommand: 'Call.CallbackAfterStartCall' }))).resolves.toBe('spooled');
    expect(spooled.length).toBeGreaterThanOrEqual(2);
    store.fail = null;
    now = NOW - 2 * DAY;
    // The spool replays in batches: a callback's events may span two.
    for (const batch of split ? [spooled.slice(0, 1), spooled.slice(1)] : [spooled]) await service.store(batch);
    expect(store.keys.size).toBe(0);
    return kept;
  }

  it.each([
    ['in one replay batch', false],
    ['split over two replay batches', true],
  ])('keeps a v4 callback refused on replay once, whole, as a request quarantine replay stores (%s)', async (_, split) => {
    const body = makeStartCall({ EventTime: (NOW + 3_600) * 1000 });
    const kept = await refusedOnReplay(body, split);
    expect(kept.map((r) => [r.errorCode, r.acknowledged, r.queryString])).toEqual([['EVENT_AHEAD', true, `sdkappid=${SDKAPPID}&callbackcommand=Call.CallbackAfterStartCall&spooled=1`]]);
    expect(JSON.parse(kept[0].body.toString())).toEqual(body);
    const later = setup(() => around(NOW));
    await expect(later.service.receive(replayOf(kept[0]))).resolves.toBe('stored');
    expect([...later.store.keys].map((k) => k.split(':')[1])).toEqual(['0', '1']);
  });

  it('keeps a v4 callback whose command came only in the URL as a request quarantine replay stores', async () => {
    const body = makeStartCall({ EventTime: (NOW + 3_600) * 1000 });
    delete body.CallbackCommand;
    const kept = await refusedOnReplay(body, false);
    expect(kept).toHaveLength(1);
    const later = setup(() => around(NOW));
    await expect(later.service.receive(replayOf(kept[0]))).resolves.toBe('stored');
    expect(later.store.keys.size).toBe(2);
  });

  /** A three-user start call (call "big") and `n` one-user member changes, spooled an hour ahead of NOW. */
  async function spoolOutage(n: number, clientip?: string) {
    let now = NOW;
    const s = setup(() => around(now));
    s.store.fail = () => Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
    const users = ['A', 'B', 'C'].map((u, i) => ({ User_Account: u, Status: i === 0 ? 'Calling' : 'Waiting' }));
    const big = makeStartCall({ EventTime: (NOW + 3_600) * 1000, UserList: users }, { CallId: 'big' });
    await expect(s.service.receive(request(big, { callbackcommand: 'Call.CallbackAfterStartCall', ...(clientip ? { clientip } : {}) }))).resolves.toBe('spooled');
    for (let i = 0; i < n; i++) {
      const small = makeMemberChanged([[`u${i}`, 'Join']], { CallId: `c${i}`, EventTime: (NOW + 3_600) * 1000 });
      await expect(s.service.receive(request(small, { callbackcommand: 'Call.CallbackAfterMemberChanged' }))).resolves.toBe('spooled');
    }
    s.store.fail = null;
    return { ...s, setNow: (t: number) => (now = t) };
  }
  const pointers = (kept: Refusal[]) => kept.filter((r) => JSON.parse(r.body.toString()).bodyIn !== undefined);

  it.each([
    ['one replay batch', (n: number) => [n]],
    ['its first event at the end of one replay batch', () => [1]],
  ])('keeps a v4 callback whole among 300 others (%s)', async (_, cut) => {
    const s = await spoolOutage(300);
    s.setNow(NOW - 2 * DAY);
    const at = cut(s.spooled.length)[0];
    for (const batch of [s.spooled.slice(0, at), s.spooled.slice(at)]) if (batch.length > 0) await s.service.store(batch);
    expect(pointers(s.kept)).toEqual([]);
    expect(s.kept).toHaveLength(301);
  });

  it('keeps a spooled event whose first event was stored live with the body stored with it', async () => {
    // One event a batch: the first commits, then the database goes away for the callback's others.
    let batches = 0;
    const s = setup(() => around(NOW), 1);
    s.store.fail = () => (++batches > 1 ? Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' }) : null);
    const body = makeStartCall({ EventTime: NOW * 1000 }, { CallId: 'big' });
    await expect(s.service.receive(request(body, { callbackcommand: 'Call.CallbackAfterStartCall' }))).resolves.toBe('spooled');
    expect(s.spooled.map((e) => e.dedupeKey.split(':')[1])).toEqual(['1']);
    // Refused on replay (its call grew past CALL_MAX_EVENTS meanwhile, say).
    s.store.fail = (events) => (events.some((e) => e.callId === 'big') ? Object.assign(new Error('value too long'), { code: '22001' }) : null);
    await s.service.store(s.spooled);
    expect(s.kept).toHaveLength(1);
    expect(JSON.parse(s.kept[0].body.toString())).toEqual(body);
    const later = setup(() => around(NOW));
    await expect(later.service.receive(replayOf(s.kept[0]))).resolves.toBe('stored');
    expect(later.store.keys.size).toBe(2);
  });

  it("keeps each app's callback when two apps sent the same body, and the callback's clientip", async () => {
    let now = NOW;
    const s = setup(() => around(now));
    s.store.fail = () => Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
    const body = makeStartCall({ EventTime: (NOW + 3_600) * 1000 });
    for (const app of ['1400000001', '1400000002']) {
      const req = request(body, { callbackcommand: 'Call.CallbackAfterStartCall', clientip: '10.1.2.3' });
      await expect(s.service.receive({ ...req, query: { ...req.query, sdkappid: app } })).resolves.toBe('spooled');
    }
    s.store.fail = null;
    now = NOW - 2 * DAY;
    await s.service.store(s.spooled);
    expect(s.kept.map((r) => r.sdkAppId)).toEqual(['1400000001', '1400000002']);
    const later = setup(() => around(NOW));
    await expect(later.service.receive(replayOf(s.kept[0]))).resolves.toBe('stored');
    expect([...later.store.events.values()].map((e) => e.clientIp)).toEqual(['10.1.2.3', '10.1.2.3']);
  });

  it('keeps a redelivery refused again in a later replay, whose earlier row may be gone by then', async () => {
    let now = NOW;
    const s = setup(() => around(now));
    const body = makeStartCall({ EventTime: (NOW + 3_600) * 1000 });
    const outage = async () => {
      s.spooled.length = 0;
      s.store.fail = () => Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
      await expect(s.service.receive(request(body, { callbackcommand: 'Call.CallbackAfterStartCall' }))).resolves.toBe('spooled');
      s.store.fail = null;
      now = NOW - 2 * DAY;
      await s.service.store([...s.spooled]);
      now = NOW;
    };
    await outage();
    await s.service.store([]); // a replay batch in between
    await outage();
    expect(s.kept.map((r) => r.errorCode)).toEqual(['EVENT_AHEAD', 'EVENT_AHEAD']);
  });
});
