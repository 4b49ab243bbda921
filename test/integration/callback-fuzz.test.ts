import fc from 'fast-check';
import { openTestDatabase, truncateAll, type TestDatabase } from '../support/database';
import { startTestApp, type TestApp } from '../support/app';
import { makeCallback, SDKAPPID } from '../support/callbacks';

let db: TestDatabase;
let app: TestApp;
beforeAll(async () => {
  db = await openTestDatabase();
  app = await startTestApp({ SDKAPPIDS: SDKAPPID, QUARANTINE_RATE_PER_MIN: '1000000' }, db);
});
afterAll(async () => {
  await app.stop();
  await db.drop();
});
beforeEach(() => truncateAll(db.dataSource));

/** Values of every JSON type, and strings Tencent never sends: NUL, lone surrogates, long ones. */
const oddValue = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom('\u0000', '\ud800', 'x'.repeat(300), '', ' ', 'normal_end', 'CALLER', 'Video'),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
);
const FIELDS = ['UserId', 'RoomId', 'TotalNum', 'MediaType', 'CallType', 'CallId', 'Role', 'Event', 'CallResult', 'EventTime', 'StartCallTs', 'AcceptTs', 'EndTs'];
/** A callback with some fields replaced by odd values or removed; or raw bytes. */
const body = fc.oneof(
  fc.record({ replace: fc.dictionary(fc.constantFrom(...FIELDS), oddValue), drop: fc.subarray(FIELDS) }).map(({ replace, drop }) => {
    const b: Record<string, unknown> = { ...makeCallback({ CallId: `fz-${Math.random()}` }), ...replace };
    for (const f of drop) delete b[f];
    return Buffer.from(JSON.stringify(b));
  }),
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  fc.json().map((j) => Buffer.from(j)),
);
const query = fc.record({
  sdkappid: fc.oneof(fc.constant(SDKAPPID), fc.string({ maxLength: 25 }), fc.constant('1499999999')),
  command: fc.oneof(fc.constant('caller_start_call'), fc.string()),
  extra: fc.string({ unit: 'binary', maxLength: 40 }),
});

describe('POST /callback under fuzzed bodies and query strings', () => {
  it('never answers 5xx while the database is up, and keeps or counts each refusal once', async () => {
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(body, query, async (b, q) => {
        const qs = `sdkappid=${encodeURIComponent(q.sdkappid)}&command=${encodeURIComponent(q.command)}&x=${encodeURIComponent(q.extra)}`;
        const res = await fetch(`${app.baseUrl}/callback?${qs}`, { method: 'POST', body: b, headers: { 'content-type': 'application/json' } });
        const reply = (await res.json()) as { ErrorCode: number };
        expect(res.status).toBeLessThan(500);
        expect(reply.ErrorCode === 0).toBe(res.status === 200);
        if (res.status !== 200) refused++;
      }),
      { numRuns: 200 },
    );
    await app.app.ingest.quarantine.flushCounts();
    const [{ kept }] = await db.dataSource.query(`SELECT coalesce(sum(times), 0)::int AS kept FROM rejected_callbacks`);
    const [{ counted }] = await db.dataSource.query(`SELECT coalesce(sum(times), 0)::int AS counted FROM rejected_callback_counts`);
    expect(refused).toBeGreaterThan(0);
    expect(kept + counted).toBe(refused);
  }, 120000);
});
