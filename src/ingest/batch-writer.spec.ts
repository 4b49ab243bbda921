import { AppError } from '../domain/app-error';
import { BatchWriter, type EventStore } from './batch-writer';
import type { WriteResult } from './ingest.repository';
import type { CallbackEvent } from './trtc-v1.schema';

const event = (id: string): CallbackEvent => ({ sdkAppId: '1', callId: id, dedupeKey: id }) as unknown as CallbackEvent;

/** A store in memory: records every batch, dedupes on the key, and fails as told. */
class FakeStore implements EventStore {
  readonly batches: string[][] = [];
  readonly keys = new Set<string>();
  fail: ((events: readonly CallbackEvent[]) => unknown) | null = null;
  gate: Promise<void> = Promise.resolve();

  async writeBatch(events: readonly CallbackEvent[]): Promise<WriteResult[]> {
    await this.gate;
    this.batches.push(events.map((e) => e.callId));
    const error = this.fail?.(events);
    if (error) throw error;
    return events.map((e) => (this.keys.has(e.dedupeKey) ? 'duplicate' : (this.keys.add(e.dedupeKey), 'stored')));
  }
}

const options = { maxBatch: 3, timeoutMs: 1000, maxPending: 100 };

describe('BatchWriter', () => {
  it('writes callbacks submitted in the same turn together, at most maxBatch per transaction', async () => {
    const store = new FakeStore();
    const w = new BatchWriter(store, options);
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((id) => w.submit(event(id))));
    expect(store.batches).toEqual([['a', 'b', 'c'], ['d', 'e']]);
  });

  it("settles each caller with its own event's result, in input order", async () => {
    const store = new FakeStore();
    const w = new BatchWriter(store, options);
    await w.submit(event('a'));
    await expect(Promise.all([w.submit(event('b')), w.submit(event('a'))])).resolves.toEqual(['stored', 'duplicate']);
  });

  it('answers UNAVAILABLE to every caller of a batch the database failed', async () => {
    const store = new FakeStore();
    store.fail = () => Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
    const w = new BatchWriter(store, options);
    const outcomes = await Promise.allSettled([w.submit(event('a')), w.submit(event('b'))]);
    expect(outcomes.map((o) => (o as PromiseRejectedResult).reason.code)).toEqual(['UNAVAILABLE', 'UNAVAILABLE']);
  });

  it('retries a batch with a data error one event at a time and refuses only the row at fault', async () => {
    const store = new FakeStore();
    store.fail = (events) => (events.some((e) => e.callId === 'bad') ? Object.assign(new Error('out of range'), { code: '22003' }) : null);
    const w = new BatchWriter(store, options);
    const outcomes = await Promise.allSettled([w.submit(event('a')), w.submit(event('bad')), w.submit(event('c'))]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'INVALID_FIELD', field: 'body' });
    expect(store.batches).toEqual([['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);
  });

  it('answers UNAVAILABLE at once when maxPending callbacks are already waiting', async () => {
    const store = new FakeStore();
    const w = new BatchWriter(store, { ...options, maxPending: 2 });
    const waiting = [w.submit(event('a')), w.submit(event('b'))];
    await expect(w.submit(event('c'))).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('full queue') });
    await Promise.all(waiting);
  });

  it('answers UNAVAILABLE after timeoutMs and does not write a queued callback whose caller was answered', async () => {
    const store = new FakeStore();
    let open!: () => void;
    store.gate = new Promise((r) => (open = r));
    const w = new BatchWriter(store, { ...options, maxBatch: 1, timeoutMs: 50 });
    const outcomes = Promise.allSettled([w.submit(event('a')), w.submit(event('b'))]);
    const settled = await outcomes;
    expect(settled.map((o) => (o as PromiseRejectedResult).reason?.code)).toEqual(['UNAVAILABLE', 'UNAVAILABLE']);
    open();
    await w.close();
    expect(store.batches).toEqual([['a']]); // 'a' was already in flight; 'b' was dropped from the queue
  });

  it('refuses new callbacks once closed, after settling the queued ones', async () => {
    const store = new FakeStore();
    const w = new BatchWriter(store, options);
    const queued = w.submit(event('a'));
    await w.close();
    await expect(queued).resolves.toBe('stored');
    await expect(w.submit(event('b'))).rejects.toBeInstanceOf(AppError);
  });

  it('refuses events dated outside the window, ends included, and writes the others of the batch', async () => {
    const store = new FakeStore();
    const at = (id: string, eventTime: number) => ({ ...event(id), eventTime }) as CallbackEvent;
    const w = new BatchWriter(store, { ...options, maxBatch: 10, window: () => ({ earliest: 1_000, latest: 2_000 }) });
    // Each end is checked on its own: a batch with only a late event, then one with only an early one.
    const ahead = await Promise.allSettled([at('first', 1_000), at('ahead', 2_001), at('last', 2_000)].map((e) => w.submit(e)));
    const old = await Promise.allSettled([at('old', 999), at('middle', 1_500)].map((e) => w.submit(e)));
    const settled = [...ahead, ...old].map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as AppError).code));
    expect(settled).toEqual(['stored', 'EVENT_AHEAD', 'stored', 'EVENT_EXPIRED', 'stored']);
    expect(store.batches).toEqual([['first', 'last'], ['middle']]);
    // What a replay of the spool writes is checked again: the window may have moved since it was acknowledged.
    const replayed = await w.writeIsolated([at('late', 999), at('kept', 1_200), at('early', 2_001)]);
    expect(replayed.map((o) => (o instanceof AppError ? o.code : o))).toEqual(['EVENT_EXPIRED', 'stored', 'EVENT_AHEAD']);
    expect(store.batches).toEqual([['first', 'last'], ['middle'], ['kept']]);
    const refusal = (ahead[1] as PromiseRejectedResult).reason as AppError;
    expect(refusal.field).toBe('EventTime');
    expect(refusal.message).toBe(
      "EventTime: expected a time at most a day after the server's clock while RETENTION_DAYS is set (at or before 1970-01-01T00:33:20.000Z), got 1970-01-01T00:33:21.000Z",
    );
  });

  it('never spools an event dated outside the window with the batch it came in, while the database is down', async () => {
    const store = new FakeStore();
    store.fail = () => Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
    const spooled: string[] = [];
    const at = (id: string, eventTime: number) => ({ ...event(id), eventTime }) as CallbackEvent;
    const w = new BatchWriter(store, { ...options, spool: { append: async (events) => void spooled.push(...events.map((e) => e.callId)) }, window: () => ({ earliest: 1_000, latest: 2_000 }) });
    const outcomes = await Promise.allSettled([w.submit(at('ahead', 2_001)), w.submit(at('fine', 1_500)), w.submit(at('old', 999))]);
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as AppError).code))).toEqual(['EVENT_AHEAD', 'spooled', 'EVENT_EXPIRED']);
    expect(spooled).toEqual(['fine']);
  });
});
