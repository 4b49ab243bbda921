import { Client } from 'pg';
import { POSITION_LOCK } from '../../src/db/advisory-lock';
import { AppError } from '../../src/domain/app-error';
import { BatchWriter } from '../../src/ingest/batch-writer';
import { CallTooLargeError, IngestRepository } from '../../src/ingest/ingest.repository';
import { IngestThread } from '../../src/ingest/ingest-thread';
import { parseV1Callback, type CallbackEvent } from '../../src/ingest/trtc-v1.schema';
import { startTestApp } from '../support/app';
import { makeCallback, postCallback } from '../support/callbacks';
import { scrape } from '../support/metrics';
import { openTestDatabase, truncateAll, type TestDatabase } from '../support/database';

let db: TestDatabase;
const threads: IngestThread[] = [];
beforeAll(async () => {
  db = await openTestDatabase();
});
afterEach(async () => {
  for (const t of threads.splice(0)) await t.close();
});
afterAll(() => db.drop());
beforeEach(() => truncateAll(db.dataSource));

const event = (i: number, over: Partial<CallbackEvent> = {}): CallbackEvent => ({
  ...parseV1Callback('1400000001', {}, makeCallback({ CallId: `it-${i}`, UserId: `u${i}` })),
  ...over,
});
const thread = (callMaxEvents = Number.POSITIVE_INFINITY, logs: string[] = []) => {
  const t = new IngestThread({ url: db.url, poolSize: 2, callMaxEvents, eventPartition: 'month' }, (message, err) => logs.push(`${message}: ${err.message}`));
  threads.push(t);
  return t;
};
const stored = async () => (await db.dataSource.query(`SELECT call_id FROM call_events ORDER BY call_id`)).map((r: { call_id: string }) => r.call_id);

/** Holds the position lock in another session, so a batch waits inside PostgreSQL until `release` (which answers once the lock is let go). */
async function holdPositionLock(): Promise<{ release(): Promise<void> }> {
  const blocker = new Client({ connectionString: db.url });
  await blocker.connect();
  await blocker.query('BEGIN');
  await blocker.query('SELECT pg_advisory_xact_lock($1)', [POSITION_LOCK]);
  return {
    release: async () => {
      await blocker.query('COMMIT');
      void blocker.end();
    },
  };
}

describe('IngestThread on PostgreSQL', () => {
  it('writes batches on its own thread and tells stored from duplicate, within a batch too', async () => {
    const t = thread();
    expect(await t.writeBatch([event(1), event(2), event(1)])).toEqual(['stored', 'stored', 'duplicate']);
    expect(await t.writeBatch([event(2)])).toEqual(['duplicate']);
    expect(await stored()).toEqual(['it-1', 'it-2']);
    const [call] = await db.dataSource.query(`SELECT status FROM calls WHERE call_id = 'it-1'`);
    expect(call).toBeDefined(); // the projection is folded on the thread too
  });

  it('reports its pool: its size before the first batch, a connection idle after one', async () => {
    const t = thread();
    expect(t.poolStats()).toEqual({ inUse: 0, idle: 0, waiting: 0, max: 2 });
    await t.writeBatch([event(1)]);
    expect(t.poolStats()).toMatchObject({ inUse: 0, max: 2 });
    expect(t.poolStats().idle).toBeGreaterThanOrEqual(1);
  });

  it("keeps PostgreSQL's SQLSTATE across the thread, so the writer refuses the row at fault and stores its batch-mates", async () => {
    const w = new BatchWriter(thread(), { maxBatch: 500, timeoutMs: 5000, maxPending: 1000 });
    const bad = event(3, { totalNum: 3_000_000_000 }); // beyond int4: SQLSTATE 22003
    const outcomes = await Promise.allSettled([w.submit(event(1)), w.submit(bad), w.submit(event(2))]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const error = (outcomes[1] as PromiseRejectedResult).reason;
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'INVALID_FIELD', field: 'body' });
    expect(await stored()).toEqual(['it-1', 'it-2']);
  });

  it('refuses a call over CALL_MAX_EVENTS with a CallTooLargeError naming the call, and stores nothing of the batch', async () => {
    const t = thread(2);
    const call = (i: number) => event(i, { callId: 'it-big', userId: `u${i}` });
    const err = await t.writeBatch([call(1), call(2), call(3), event(9)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CallTooLargeError);
    expect(err).toMatchObject({ max: 2, calls: [{ sdkAppId: '1400000001', callId: 'it-big' }] });
    expect(await stored()).toEqual([]);
  });

  it('fails the batch of a thread that ends mid-batch as an outage (spooled, not refused); the next batch starts a new thread', async () => {
    const lock = await holdPositionLock();
    const appended: CallbackEvent[] = [];
    const t = await thread().prepare();
    const w = new BatchWriter(t, { maxBatch: 500, timeoutMs: 10_000, maxPending: 1000, spool: { append: async (events) => void appended.push(...events) } });
    const waiting = w.submit(event(1));
    await new Promise((r) => setTimeout(r, 300)); // the batch now waits for the lock on the thread
    await t.terminate();
    expect(await waiting).toBe('spooled');
    expect(appended.map((e) => e.callId)).toEqual(['it-1']);
    await lock.release();
    expect(await w.submit(event(2))).toBe('stored');
    expect(await w.submit(event(1))).toBe('stored'); // the spooled one, replayed: its transaction had not committed
    expect(await stored()).toEqual(['it-1', 'it-2']);
  });

  it('commits a batch while the main thread is busy, where the same batch on the main thread waits for it', async () => {
    /** Starts a write of `events` that waits for the position lock, lets it go, then keeps this thread busy and reads what is committed. */
    const committedWhileBusy = async (write: () => Promise<unknown>): Promise<string[]> => {
      const lock = await holdPositionLock();
      const writing = write();
      await new Promise((r) => setTimeout(r, 300)); // the batch now waits for the lock inside PostgreSQL
      await lock.release();
      const until = performance.now() + 500;
      while (performance.now() < until); // the main thread's event loop does nothing else (a fan-out burst)
      const seen = await stored();
      await writing;
      return seen;
    };
    const t = await thread().prepare();
    expect(await committedWhileBusy(() => t.writeBatch([event(1)]))).toEqual(['it-1']);
    await truncateAll(db.dataSource);
    const onMain = new IngestRepository(db.ingestDataSource);
    expect(await committedWhileBusy(() => onMain.writeBatch([event(1)]))).toEqual([]);
    expect(await stored()).toEqual(['it-1']);
  });

  it('ends a thread whose batch hangs past its timeout: the batch is spooled, and the next one stored on a new thread', async () => {
    const lock = await holdPositionLock();
    const t = new IngestThread({ url: db.url, poolSize: 2, callMaxEvents: Number.POSITIVE_INFINITY, eventPartition: 'month', batchTimeoutMs: 400 });
    threads.push(await t.prepare());
    const appended: CallbackEvent[] = [];
    const w = new BatchWriter(t, { maxBatch: 500, timeoutMs: 10_000, maxPending: 1000, spool: { append: async (events) => void appended.push(...events) } });
    expect(await w.submit(event(1))).toBe('spooled'); // the lock is never let go while it waits: the thread is ended at 400 ms
    expect(appended.map((e) => e.callId)).toEqual(['it-1']);
    await lock.release();
    expect(await w.submit(event(2))).toBe('stored');
    expect(await stored()).toEqual(['it-2']);
  });

  it('refuses to start when its worker cannot load, and then refuses batches for a moment instead of starting a thread for each', async () => {
    const t = new IngestThread({ url: db.url, poolSize: 2, callMaxEvents: 10, eventPartition: 'month', entry: '/nonexistent/ingest-thread.worker.js' });
    threads.push(t);
    await expect(t.prepare()).rejects.toThrow(/^ingest thread: expected it to load, got its exit first \(.*Cannot find module/);
    await expect(t.writeBatch([event(1)])).rejects.toThrow('ingest thread: expected to be running, got a thread that failed to load; retrying shortly');
  });

  it('answers what it has before it ends at close, and refuses batches after', async () => {
    const t = thread();
    const batch = t.writeBatch([event(1)]);
    await t.close();
    expect(await batch).toEqual(['stored']);
    await expect(t.writeBatch([event(2)])).rejects.toThrow('ingest thread: expected to be running, got closed');
  });

  it('with INGEST_THREAD=off, writes on the main thread over its ingest pool, reported as the ingest pool', async () => {
    const app = await startTestApp({ INGEST_THREAD: 'off' }, db);
    try {
      expect(app.app.ingest.threaded).toBe(false);
      expect((await postCallback(app.baseUrl, makeCallback({ CallId: 'it-off' }))).status).toBe(200);
      expect(await stored()).toEqual(['it-off']);
      const s = await scrape(app.baseUrl);
      expect(s.value('calltrail_db_pool_max', { pool: 'ingest' })).toBe(4);
      expect(s.samples.some((x) => x.labels.pool === 'quarantine')).toBe(false);
    } finally {
      await app.stop();
    }
  });
});
