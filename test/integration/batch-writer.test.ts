import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { createDataSource } from '../../src/db/database';
import { AppError } from '../../src/domain/app-error';
import { BatchWriter } from '../../src/ingest/batch-writer';
import { IngestRepository } from '../../src/ingest/ingest.repository';
import { parseV1Callback, type CallbackEvent } from '../../src/ingest/trtc-v1.schema';
import { makeCallback } from '../support/callbacks';
import { openTestDatabase, truncateAll, type TestDatabase } from '../support/database';

let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.drop());
beforeEach(() => truncateAll(db.dataSource));

const event = (i: number, over: Partial<CallbackEvent> = {}): CallbackEvent => ({
  ...parseV1Callback('1400000001', {}, makeCallback({ CallId: `bw-${i}`, UserId: `u${i}` })),
  ...over,
});
const writer = (options: Partial<ConstructorParameters<typeof BatchWriter>[1]> = {}) => {
  return new BatchWriter(new IngestRepository(db.dataSource), { maxBatch: 500, timeoutMs: 5000, maxPending: 1000, ...options });
};
const stored = async () => (await db.dataSource.query(`SELECT call_id FROM call_events ORDER BY call_id`)).map((r: { call_id: string }) => r.call_id);

describe('BatchWriter on PostgreSQL', () => {
  it('keeps a batch in the spool, not a 200, when its pool is closed, and says so', async () => {
    const closed = createDataSource(db.url); // never opened: no pool, as after shutdown or before start
    const appended: CallbackEvent[] = [];
    const errors: string[] = [];
    const w = new BatchWriter(new IngestRepository(closed), {
      maxBatch: 500,
      timeoutMs: 5000,
      maxPending: 1000,
      spool: { append: async (events) => void appended.push(...events) },
      onError: (err) => errors.push((err as Error).message),
    });
    expect(await w.submit(event(1))).toBe('spooled');
    expect(appended.map((e) => e.callId)).toEqual(['bw-1']);
    expect(errors).toEqual(['database: expected an open ingest pool, got none (not open yet, or closed)']);
    expect(await stored()).toEqual([]);
  });

  it('writes concurrent callbacks together and tells stored from duplicate, within a batch too', async () => {
    const w = writer();
    const results = await Promise.all([w.submit(event(1)), w.submit(event(2)), w.submit(event(1))]);
    expect(results).toEqual(['stored', 'stored', 'duplicate']);
    expect(await w.submit(event(2))).toBe('duplicate');
    expect(await stored()).toEqual(['bw-1', 'bw-2']);
  });

  it('refuses for good a row PostgreSQL cannot store, without failing its batch-mates', async () => {
    const w = writer();
    const bad = event(3, { totalNum: 3_000_000_000 }); // beyond int4: SQLSTATE 22003
    const outcomes = await Promise.allSettled([w.submit(event(1)), w.submit(bad), w.submit(event(2))]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const error = (outcomes[1] as PromiseRejectedResult).reason;
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'INVALID_FIELD', field: 'body' });
    expect(error.message).toMatch(/^body: expected values PostgreSQL can store, got one it refused \(.*out of range/);
    expect(await stored()).toEqual(['bw-1', 'bw-2']);
  });

  it('refuses for good a row too large for an index (SQLSTATE 54000), past validation', async () => {
    const w = writer();
    const outcomes = await Promise.allSettled([w.submit(event(1)), w.submit(event(2, { callId: randomBytes(6000).toString('hex') }))]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'INVALID_FIELD' });
    expect(await stored()).toEqual(['bw-1']);
  });

  it('answers UNAVAILABLE at once when the queue is full', async () => {
    const w = writer({ maxPending: 2 });
    const first = [w.submit(event(1)), w.submit(event(2))];
    await expect(w.submit(event(3))).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('got a full queue') });
    await Promise.all(first);
  });

  it('does not write later what it already answered UNAVAILABLE', async () => {
    // Another session holds the position lock, so the first batch waits in PostgreSQL.
    const blocker = new Client({ connectionString: db.url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('SELECT pg_advisory_xact_lock($1)', [0x63616c6c]);
    const w = writer({ timeoutMs: 300 });
    const inFlight = w.submit(event(1));
    await new Promise((r) => setTimeout(r, 50));
    const queued = [w.submit(event(2)), w.submit(event(3))];
    const outcomes = await Promise.allSettled([inFlight, ...queued]);
    expect(outcomes.map((o) => (o.status === 'rejected' ? o.reason.code : o.value))).toEqual(['UNAVAILABLE', 'UNAVAILABLE', 'UNAVAILABLE']);
    await blocker.query('COMMIT');
    await blocker.end();
    await w.close();
    // The batch already in PostgreSQL commits (a retry is deduplicated); the queued ones were dropped.
    expect(await stored()).toEqual(['bw-1']);
  });
});
