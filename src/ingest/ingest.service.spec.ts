import { makeCallback, SDKAPPID } from '../../test/support/callbacks';
import { makeMemberChanged, makeStartCall } from '../../test/support/callbacks-v4';
import type { EventWindow } from '../domain/partition-ranges';
import { callbackQuery } from './archive-line';
import type { Refusal, QuarantineService } from '../quarantine/quarantine.service';
import { BatchWriter, type EventStore, type SpoolSink } from './batch-writer';
import type { WriteResult } from './ingest.repository';
import { IngestService, type IngestRequest } from './ingest.service';
import type { CallbackEvent } from './trtc-v1.schema';

/** A store in memory that dedupes on the key, and fails as told. */
class FakeStore implements EventStore {
  readonly keys = new Set<string>();
  fail: ((events: readonly CallbackEvent[]) => unknown) | null = null;
  async writeBatch(events: readonly CallbackEvent[]): Promise<WriteResult[]> {
    const error = this.fail?.(events);
    if (error) throw error;
    return events.map((e) => (this.keys.has(e.dedupeKey) ? 'duplicate' : (this.keys.add(e.dedupeKey), 'stored')));
  }
}

function setup(window?: () => EventWindow | null) {
  const store = new FakeStore();
  const spooled: CallbackEvent[] = [];
  const spool: SpoolSink = { append: async (events) => void spooled.push(...events) };
  const kept: Refusal[] = [];
  const quarantine = { keep: async (r: Refusal) => void kept.push(r) } as unknown as QuarantineService;
  const writer = new BatchWriter(store, { maxBatch: 500, timeoutMs: 1000, maxPending: 100, spool, window });
  const service = new IngestService({ sdkAppIds: null, secret: null, signToken: null, signWindowSeconds: 300 }, writer, quarantine);
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
});
