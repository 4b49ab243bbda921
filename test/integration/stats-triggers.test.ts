import { Client } from 'pg';
import { REFRESH_LOCK, StatsRollupRepository } from '../../src/calls/stats-rollup.repository';
import { openTestDatabase, truncateAll, type TestDatabase } from '../support/database';
import { insertCalls, refreshAll, rollupDrift, type StatsCall } from '../support/stats';

const A = '1400000001';
let db: TestDatabase;
let rollup: StatsRollupRepository;

beforeAll(async () => {
  db = await openTestDatabase();
  rollup = new StatsRollupRepository(db.dataSource);
});
afterAll(() => db.drop());
beforeEach(async () => {
  await truncateAll(db.dataSource);
});

const q = <T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> => db.dataSource.query(sql, params);
const marks = async () => (await q<{ k: string }>(`SELECT sdk_app_id || ' ' || to_char(hour AT TIME ZONE 'UTC', 'MM-DD HH24') AS k FROM call_stats_dirty ORDER BY 1`)).map((r) => r.k);
const call = (startedAt: string, over: Partial<StatsCall> = {}): StatsCall => ({
  app: A, callType: 'SINGLE', mediaType: 'AUDIO', status: 'RINGING', result: null, startedAt, acceptedAt: null, talkSeconds: null, ...over,
});
/** Upserts like ingest does: INSERT … ON CONFLICT DO UPDATE of every column stats read. */
const UPSERT = `
  INSERT INTO calls (sdk_app_id, call_id, status, result, started_at, accepted_at, talk_seconds, participant_count, last_event_at, last_position)
  SELECT $1, x.id, x.status, x.result, x.started_at, x.accepted_at, x.talk, 2, now(), 1
  FROM jsonb_to_recordset($2::jsonb) AS x(id text, status text, result text, started_at timestamptz, accepted_at timestamptz, talk int)
  ON CONFLICT ON CONSTRAINT uq_calls_app_call DO UPDATE SET status = EXCLUDED.status, result = EXCLUDED.result,
    started_at = EXCLUDED.started_at, accepted_at = EXCLUDED.accepted_at, talk_seconds = EXCLUDED.talk_seconds, last_event_at = now()`;

describe('triggers on calls', () => {
  it('mark the hours of inserted rows, and the old and new hours of rows INSERT … ON CONFLICT DO UPDATE changed', async () => {
    await insertCalls(db.dataSource, [call('2024-03-10T01:10:00Z'), call('2024-03-10T02:10:00Z')]);
    expect(await marks()).toEqual([`${A} 03-10 01`, `${A} 03-10 02`]);
    await refreshAll(rollup);
    await q(UPSERT, [A, JSON.stringify([
      { id: 'c-0', status: 'ENDED', result: 'NORMAL_END', started_at: '2024-03-10T05:10:00Z', accepted_at: '2024-03-10T05:10:05Z', talk: 60 },
      { id: 'c-9', status: 'RINGING', result: null, started_at: '2024-03-10T07:59:59Z' },
    ])]);
    expect(await marks()).toEqual([`${A} 03-10 01`, `${A} 03-10 05`, `${A} 03-10 07`]);
    await refreshAll(rollup);
    expect(await rollupDrift(db.dataSource)).toEqual([]);
  });

  it('mark nothing for an update that changes nothing the rollup sums', async () => {
    await insertCalls(db.dataSource, [call('2024-03-10T01:10:00Z', { status: 'ENDED', result: 'CANCEL' })]);
    await refreshAll(rollup);
    await q(UPSERT, [A, JSON.stringify([{ id: 'c-0', status: 'ENDED', result: 'CANCEL', started_at: '2024-03-10T01:10:00Z' }])]);
    await q(`UPDATE calls SET ring_seconds = 3, caller_id = 'Alice'`);
    expect(await marks()).toEqual([]);
  });

  it('mark the hours of deleted rows, and a TRUNCATE of calls empties the rollup', async () => {
    await insertCalls(db.dataSource, [call('2024-03-10T01:10:00Z'), call('2024-03-11T01:10:00Z')]);
    await refreshAll(rollup);
    await q(`DELETE FROM calls WHERE started_at < '2024-03-11'`);
    expect(await marks()).toEqual([`${A} 03-10 01`]);
    await refreshAll(rollup);
    expect(await rollupDrift(db.dataSource)).toEqual([]);
    await q('TRUNCATE calls CASCADE');
    expect(await q('SELECT (SELECT count(*) FROM call_stats_hourly)::int AS hourly, (SELECT count(*) FROM call_stats_hourly_totals)::int AS totals')).toEqual([{ hourly: 0, totals: 0 }]);
  });
  it('empty the rollup on a TRUNCATE of calls without deadlocking with a read that holds the rollup and waits for calls', async () => {
    await insertCalls(db.dataSource, [call('2024-03-10T01:10:00Z')]);
    await refreshAll(rollup);
    const [reader, truncating] = [new Client({ connectionString: db.url }), new Client({ connectionString: db.url })];
    await Promise.all([reader.connect(), truncating.connect()]);
    try {
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM call_stats_dirty, call_stats_hourly, call_stats_hourly_totals'); // a stats read takes these first
      await truncating.query('BEGIN');
      await truncating.query('TRUNCATE calls CASCADE');
      const reading = reader.query('SELECT count(*)::int AS n FROM calls'); // waits for the TRUNCATE
      await truncating.query('COMMIT');
      expect((await reading).rows).toEqual([{ n: 0 }]);
      await reader.query('COMMIT');
    } finally {
      await Promise.all([reader.end(), truncating.end()]);
    }
    expect(await rollupDrift(db.dataSource)).toEqual([]);
  });
});

describe('the refresher', () => {
  it('leaves the mark of an hour a writer is still changing, and the next refresh catches the write', async () => {
    await insertCalls(db.dataSource, [call('2024-03-10T01:10:00Z'), call('2024-03-10T01:20:00Z')]);
    const writer = new Client({ connectionString: db.url });
    await writer.connect();
    try {
      await writer.query('BEGIN');
      await writer.query(`UPDATE calls SET status = 'ENDED', result = 'NOT_ANSWER' WHERE call_id = 'c-1'`); // marks 01:00 again, uncommitted
      expect(await rollup.refresh(100)).toBe(1); // does not wait for the writer
      expect(await marks()).toEqual([`${A} 03-10 01`]);
      await writer.query('COMMIT');
    } finally {
      await writer.end();
    }
    expect(await rollupDrift(db.dataSource)).not.toEqual([]);
    await refreshAll(rollup);
    expect(await marks()).toEqual([]);
    expect(await rollupDrift(db.dataSource)).toEqual([]);
  });

  it('skips its turn while another replica refreshes', async () => {
    await insertCalls(db.dataSource, [call('2024-03-10T01:10:00Z')]);
    const other = new Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT pg_try_advisory_xact_lock($1)', [REFRESH_LOCK]);
      expect(await rollup.refresh(100)).toBeNull();
      await other.query('COMMIT');
    } finally {
      await other.end();
    }
    expect(await rollup.refresh(100)).toBe(1);
  });

  it('takes no lock on calls when no hour is marked, so an idle turn never waits behind a lock on calls', async () => {
    await insertCalls(db.dataSource, [call('2024-03-10T01:10:00Z')]);
    await refreshAll(rollup);
    expect(await marks()).toEqual([]);
    const migrating = new Client({ connectionString: db.url });
    await migrating.connect();
    try {
      await migrating.query('BEGIN');
      await migrating.query('LOCK TABLE calls IN ACCESS EXCLUSIVE MODE'); // what an ALTER TABLE takes
      const turn = await Promise.race([rollup.refresh(100), new Promise((r) => setTimeout(() => r('waited for the lock on calls'), 2000))]);
      expect(turn).toBe(0);
      await migrating.query('COMMIT');
    } finally {
      await migrating.end();
    }
  });

  it('waits for a TRUNCATE of calls that started first instead of deadlocking with its trigger', async () => {
    await insertCalls(db.dataSource, [call('2024-03-10T01:10:00Z')]);
    const truncating = new Client({ connectionString: db.url });
    await truncating.connect();
    try {
      await truncating.query('BEGIN');
      await truncating.query('LOCK TABLE calls IN ACCESS EXCLUSIVE MODE'); // what TRUNCATE takes first
      const refreshing = rollup.refresh(100);
      await new Promise((r) => setTimeout(r, 300));
      await truncating.query('TRUNCATE calls CASCADE'); // its trigger then empties the rollup tables
      await truncating.query('COMMIT');
      expect(await refreshing).toBe(0);
    } finally {
      await truncating.end();
    }
    expect(await marks()).toEqual([]);
  });
});
