import { randomBytes } from 'node:crypto';
import { ApiKeyRepository, hashApiKey } from '../../src/api-keys/api-key.repository';
import { MAX_COUNTED_SOURCES, OTHER_SOURCE, QuarantineRepository } from '../../src/quarantine/quarantine.repository';
import { QuarantineService, type Refusal } from '../../src/quarantine/quarantine.service';
import { makeCallback } from '../support/callbacks';
import { openTestDatabase, truncateAll, type TestDatabase } from '../support/database';

let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.drop());
beforeEach(() => truncateAll(db.dataSource));

const refusal = (over: Partial<Refusal> = {}): Refusal => {
  const body = Buffer.from(JSON.stringify(makeCallback({ CallId: `q-${Math.random()}` })));
  return { reason: 'sdkappid: expected an SDKAppID this server accepts, got "9"', errorCode: 'UNKNOWN_APP', sdkAppId: '9', queryString: 'sdkappid=9', body, bodyBytes: body.length, source: '10.0.0.1', proven: false, ...over };
};
const rows = async () => (await db.dataSource.query(`SELECT count(*)::int AS n FROM rejected_callbacks`))[0].n;
const counts = () => db.dataSource.query(`SELECT error_code, source, times::int FROM rejected_callback_counts ORDER BY source`);

describe('QuarantineService on PostgreSQL', () => {
  it('keeps callbacks from one source whole up to its rate per minute, then only counts them', async () => {
    const q = new QuarantineService(new QuarantineRepository(db.dataSource), { maxBytes: 1 << 30, ratePerMinute: 3, retentionDays: 30, now: () => 0 });
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await q.keep(refusal()));
    outcomes.push(await q.keep(refusal({ source: '10.0.0.2' })));
    expect(outcomes).toEqual(['kept', 'kept', 'kept', 'counted', 'counted', 'kept']);
    expect(await rows()).toBe(4);
    await q.flushCounts();
    expect(await counts()).toEqual([{ error_code: 'UNKNOWN_APP', source: '10.0.0.1', times: 2 }]);
  });

  it('keeps a proven caller’s refusals whatever the rate, but nothing whole once the quarantine is over its size', async () => {
    let t = 0;
    const q = new QuarantineService(new QuarantineRepository(db.dataSource), { maxBytes: 300_000, ratePerMinute: 1, retentionDays: 30, now: () => (t += 20_000) });
    const big = Buffer.from(JSON.stringify(makeCallback({ Padding: randomBytes(45_000).toString('base64') }))); // TOAST cannot compress it
    const outcomes = [];
    for (let i = 0; i < 12; i++) outcomes.push(await q.keep(refusal({ proven: true, body: Buffer.concat([big, Buffer.from(' '.repeat(i))]), bodyBytes: big.length })));
    expect(outcomes.slice(0, 3)).toEqual(['kept', 'kept', 'kept']);
    expect(outcomes.at(-1)).toBe('counted');
    const size = Number((await db.dataSource.query(`SELECT pg_total_relation_size('rejected_callbacks') AS n`))[0].n);
    expect(size).toBeLessThan(300_000 + 2 * 70_000); // at most the one measurement interval past the bound
  });

  it('counts what it keeps against the bound between two measurements, and keeps an acknowledged callback whatever the bound', async () => {
    const q = new QuarantineService(new QuarantineRepository(db.dataSource), { maxBytes: 300_000, ratePerMinute: 1000, retentionDays: 30, now: () => 0 });
    const big = Buffer.from(JSON.stringify(makeCallback({ Padding: randomBytes(45_000).toString('base64') })));
    const outcomes = [];
    for (let i = 0; i < 12; i++) outcomes.push(await q.keep(refusal({ proven: true, body: Buffer.concat([big, Buffer.from(' '.repeat(i))]), bodyBytes: big.length })));
    expect(outcomes.filter((o) => o === 'kept').length).toBeLessThanOrEqual(6); // about 300 KB of 60 KB bodies
    expect(outcomes.at(-1)).toBe('counted');
    expect(await q.keep(refusal({ proven: true, acknowledged: true, source: 'spool' }))).toBe('kept');
  });

  it('deletes refusals and counts older than the retention', async () => {
    const repo = new QuarantineRepository(db.dataSource);
    const q = new QuarantineService(repo, { maxBytes: 1 << 30, ratePerMinute: 100, retentionDays: 30 });
    await q.keep(refusal());
    await q.keep(refusal());
    await db.dataSource.query(`UPDATE rejected_callbacks SET last_seen_at = now() - interval '31 days' WHERE id = (SELECT min(id) FROM rejected_callbacks)`);
    await repo.addCounts([{ errorCode: 'BAD_TOKEN', source: '10.0.0.9', times: 1, bytes: 1 }]);
    await db.dataSource.query(`UPDATE rejected_callback_counts SET day = current_date - 31`);
    expect(await repo.purgeOlderThan(30)).toBe(1);
    expect(await rows()).toBe(1);
    expect(await counts()).toEqual([]);
  });
});

describe('counted refusals from many sources', () => {
  const JUNK = Buffer.from('not a callback');
  /** Junk from `n` distinct IPv6 addresses starting at `from`, as a flood from one /64 would send. */
  const flood = async (q: QuarantineService, from: number, n: number, errorCode = 'UNKNOWN_APP') => {
    for (let i = from; i < from + n; i++) await q.keep(refusal({ errorCode, body: JUNK, bodyBytes: 100 + (i % 7), source: `2001:db8::${i.toString(16)}` }));
  };
  const bytesOf = (from: number, n: number) => Array.from({ length: n }, (_, i) => 100 + ((from + i) % 7)).reduce((a, b) => a + b, 0);
  const totals = async () =>
    db.dataSource.query(
      `SELECT error_code AS code, count(*)::int AS rows, sum(times)::int AS times, sum(bytes)::int AS bytes, count(*) FILTER (WHERE source = $1)::int AS other
       FROM rejected_callback_counts GROUP BY error_code ORDER BY error_code`,
      [OTHER_SOURCE],
    );

  it(`keeps at most ${MAX_COUNTED_SOURCES} sources per day and code over several flushes, the rest under "${OTHER_SOURCE}", with exact totals`, async () => {
    const q = new QuarantineService(new QuarantineRepository(db.dataSource), { maxBytes: 1 << 30, ratePerMinute: 100, retentionDays: 30 });
    await flood(q, 0, 700);
    await q.flushCounts();
    await flood(q, 0, 100); // sources already counted today keep their row
    await flood(q, 700, 1800);
    await flood(q, 0, 1500, 'BAD_TOKEN');
    await q.flushCounts();
    expect(await totals()).toEqual([
      { code: 'BAD_TOKEN', rows: MAX_COUNTED_SOURCES + 1, times: 1500, bytes: bytesOf(0, 1500), other: 1 },
      { code: 'UNKNOWN_APP', rows: MAX_COUNTED_SOURCES + 1, times: 2600, bytes: bytesOf(0, 100) + bytesOf(0, 2500), other: 1 },
    ]);
    const first = await db.dataSource.query(`SELECT times::int FROM rejected_callback_counts WHERE error_code = 'UNKNOWN_APP' AND source = '2001:db8::0'`);
    expect(first).toEqual([{ times: 2 }]);
  });

  it(`holds at most ${MAX_COUNTED_SOURCES} sources per code in memory while the database is down, and writes exact totals once it is back`, async () => {
    const q = new QuarantineService(new QuarantineRepository(db.dataSource), { maxBytes: 1 << 30, ratePerMinute: 100, retentionDays: 30 });
    await db.dataSource.query('ALTER TABLE rejected_callback_counts RENAME TO rejected_callback_counts_away');
    try {
      await flood(q, 0, 3000);
      await expect(q.flushCounts()).rejects.toThrow(/rejected_callback_counts/);
      await flood(q, 3000, 3000);
      expect(q.pendingCounts).toBe(MAX_COUNTED_SOURCES + 1);
      await expect(q.flushCounts()).rejects.toThrow(/rejected_callback_counts/);
      expect(q.pendingCounts).toBe(MAX_COUNTED_SOURCES + 1);
    } finally {
      await db.dataSource.query('ALTER TABLE rejected_callback_counts_away RENAME TO rejected_callback_counts');
    }
    await q.flushCounts();
    expect(q.pendingCounts).toBe(0);
    expect(await totals()).toEqual([{ code: 'UNKNOWN_APP', rows: MAX_COUNTED_SOURCES + 1, times: 6000, bytes: bytesOf(0, 6000), other: 1 }]);
  });
});

describe('BOOTSTRAP_API_KEY', () => {
  it('revokes the previous bootstrap key when it changes, and keeps one active', async () => {
    const keys = new ApiKeyRepository(db.dataSource);
    await keys.ensure('first-bootstrap-key-000', 'bootstrap');
    await keys.ensure('first-bootstrap-key-000', 'bootstrap'); // a restart with the same key
    await keys.ensure('second-bootstrap-key-111', 'bootstrap');
    expect(await keys.authenticate('first-bootstrap-key-000')).toBeNull();
    expect(await keys.authenticate('second-bootstrap-key-111')).toEqual({ all: true });
    const active = await db.dataSource.query(`SELECT key_hash FROM api_keys WHERE name = 'bootstrap' AND revoked_at IS NULL`);
    expect(active).toEqual([{ key_hash: hashApiKey('second-bootstrap-key-111') }]);
    await keys.ensure('first-bootstrap-key-000', 'bootstrap'); // and back
    expect(await keys.authenticate('first-bootstrap-key-000')).toEqual({ all: true });
    expect(await keys.authenticate('second-bootstrap-key-111')).toBeNull();
  });
});
