import type { Logger } from 'typeorm';
import { CallEventRepository } from '../../src/calls/call-event.repository';
import { CallRepository } from '../../src/calls/call.repository';
import { EventPartitionRepository } from '../../src/db/event-partitions.repository';
import { ParticipantRepository } from '../../src/calls/participant.repository';
import { scopeOf } from '../../src/api-keys/api-key.repository';
import { INSERT_AND_READ } from '../../src/ingest/ingest.repository';
import { openTestDatabase, type TestDatabase } from '../support/database';

/** Remembers the last statement sent, so the test can EXPLAIN exactly what a repository ran. */
class LastQuery implements Logger {
  sql = '';
  params: unknown[] = [];
  logQuery(query: string, parameters?: unknown[]): void {
    this.sql = query;
    this.params = parameters ?? [];
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}

const last = new LastQuery();
let db: TestDatabase;
const scope = scopeOf(['1400000001']);

beforeAll(async () => {
  db = await openTestDatabase(last);
  // 50k calls over 10 apps, 2 participants each, 3 events each: enough for the planner to prefer indexes.
  await db.dataSource.query(`
    INSERT INTO calls (sdk_app_id, call_id, call_type, media_type, status, result, caller_id, started_at, participant_count, last_event_at, last_position)
    SELECT (1400000001 + i % 10)::text, 'c' || i, 'SINGLE', CASE WHEN i % 3 = 0 THEN 'VIDEO' ELSE 'AUDIO' END,
      CASE WHEN i % 100 = 0 THEN 'ONGOING' ELSE 'ENDED' END, 'NORMAL_END', 'u' || (i % 5000),
      timestamptz '2024-01-01' + i * interval '1 minute', 2, timestamptz '2024-01-01' + i * interval '1 minute', i
    FROM generate_series(1, 50000) i`);
  await db.dataSource.query(`
    INSERT INTO call_participants (call_ref, sdk_app_id, call_id, user_id, role, outcome, call_type, media_type, started_at)
    SELECT c.id, c.sdk_app_id, c.call_id, u.user_id, u.role, 'ENDED', c.call_type, c.media_type, c.started_at
    FROM calls c CROSS JOIN LATERAL (VALUES (c.caller_id, 'CALLER'), ('v' || (c.id % 7000), 'CALLEE')) AS u(user_id, role)`);
  // The partitions of the events' months, as the server's upkeep makes them (docs/architecture.md, Event partitions).
  const partitions = new EventPartitionRepository(db.dataSource);
  for (const [from, to] of [['2024-01-01', '2024-02-01'], ['2024-02-01', '2024-03-01']]) await partitions.create({ from: Date.parse(from) / 1000, to: Date.parse(to) / 1000 });
  await db.dataSource.query(`
    INSERT INTO call_events (sdk_app_id, call_id, user_id, role, raw_event, event_type, event_time, body, dedupe_key)
    SELECT c.sdk_app_id, c.call_id, c.caller_id, 'CALLER', e, upper(e), c.started_at, '{}'::jsonb, c.call_id || e
    FROM calls c CROSS JOIN unnest(ARRAY['start_call', 'call_accepted', 'call_end']) AS e`);
  await db.dataSource.query('ANALYZE');
}, 60000);
afterAll(() => db.drop());

async function planOf(run: () => Promise<unknown>): Promise<string> {
  await run();
  const rows: { 'QUERY PLAN': string }[] = await db.dataSource.query(`EXPLAIN ${last.sql}`, last.params);
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}

describe('query plans of the main listings', () => {
  const calls = () => new CallRepository(db.dataSource);
  const participants = () => new ParticipantRepository(db.dataSource);
  const events = () => new CallEventRepository(db.dataSource);

  // A partition's copy of a parent index is named after its columns (cut at 63 characters): call_events_p20240101_sdk_app_id_call_id_position_idx.
  it.each<[string, () => Promise<unknown>, string | RegExp]>([
    ["an app's newest calls", () => calls().list(scope, {}, 'STARTED_AT_DESC', { first: 50 }), 'ix_calls_app_started'],
    ["an app's ongoing calls", () => calls().list(scope, { status: ['ONGOING'] }, 'STARTED_AT_DESC', { first: 50 }), 'ix_calls_app_status_started'],
    ['calls of a user', () => calls().list(scope, { userId: 'u42' }, 'STARTED_AT_DESC', { first: 50 }), 'ix_call_participants_user_started'],
    ["a user's history", () => participants().list(scope, { userId: 'v42', outcome: ['ENDED'] }, { first: 50 }), 'ix_call_participants_user_started'],
    ['events of a call', () => events().list(scope, { callId: 'c4201' }, { first: 50 }), /Index Scan (using|on) call_events_p20240101_sdk_app_id_call_id_position_idx/],
    ['events of a user in a time range', () => events().list(scope, { userId: 'u42', eventTime: { from: new Date('2024-01-01'), to: new Date('2024-02-01') } }, { first: 50 }), /Index Scan (using|on) call_events_p20240101_sdk_app_id_user_id_event_time_positi\w*_idx/],
  ])('%s uses its index, not a scan of the table', async (_name, run, index) => {
    const plan = await planOf(run);
    if (typeof index === 'string') expect(plan).toContain(index);
    else expect(plan).toMatch(index);
    // Empty partitions (those of now, made by the migration) may be scanned: there is nothing in them to read.
    expect(plan).not.toMatch(/Seq Scan on (calls|call_participants|call_events|call_events_p2024\d+)\b/);
  });
});

describe("ingest's insert and read of the touched calls", () => {
  /** A batch's event as the writer sends it (src/ingest/trtc-v1.schema.ts, CallbackEvent). */
  const event = (callId: string, eventTime: number, dedupeKey: string) => ({
    sdkAppId: '1400000001', callId, roomId: null, userId: 'u1', role: 'CALLER', rawEvent: 'call_end', type: 'CALL_END', callType: 'SINGLE',
    mediaType: 'AUDIO', totalNum: 2, callResult: null, rawCallResult: null, eventTime, startCallTs: null, acceptTs: null, endTs: null,
    command: null, clientIp: null, platform: null, body: {}, dedupeKey,
  });

  it('reads a known call within its span and a new one by the call index, scanning neither calls nor a partition', async () => {
    // c4200 (app 1400000001) started 2024-01-01 + 4201 minutes, with 3 stored events; 'fresh-1' is new.
    await db.dataSource.query(`UPDATE calls SET first_event_at = started_at, last_event_at = started_at WHERE sdk_app_id = '1400000001' AND call_id = 'c4200'`);
    const [{ t }]: { t: number }[] = await db.dataSource.query(`SELECT extract(epoch FROM started_at)::float8 AS t FROM calls WHERE sdk_app_id = '1400000001' AND call_id = 'c4200'`);
    const batch = JSON.stringify([event('c4200', t + 60, 'plan-known'), event('fresh-1', t + 60, 'plan-fresh')]);
    const runner = db.dataSource.createQueryRunner();
    await runner.startTransaction();
    try {
      const rows: { 'QUERY PLAN': string }[] = await runner.query(`EXPLAIN (ANALYZE, COSTS OFF) ${INSERT_AND_READ}`, [batch, '[]']);
      const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toContain('uq_calls_app_call');
      expect(plan).toMatch(/Index Scan (using|on) call_events_p20240101_sdk_app_id_call_id_position_idx/);
      expect(plan).not.toMatch(/Seq Scan on (calls|call_events_p2024\d+)\b/);
      expect(plan).not.toMatch(/Hash (Right |Left )?Join/);
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
    // What it returns: each new row once, and the known call's stored events beside them.
    const runner2 = db.dataSource.createQueryRunner();
    await runner2.startTransaction();
    try {
      const rows: { new: boolean; callId: string }[] = await runner2.query(INSERT_AND_READ, [batch, '[]']);
      const seen = rows.map((r) => `${r.callId}:${r.new}`).sort();
      expect(seen).toEqual(['c4200:false', 'c4200:false', 'c4200:false', 'c4200:true', 'fresh-1:true']);
    } finally {
      await runner2.rollbackTransaction();
      await runner2.release();
    }
    // A call whose events up to a position the writer holds (its fold cache): only the later ones come back.
    const stored: { p: string }[] = await db.dataSource.query(
      `SELECT position::text AS p FROM call_events WHERE sdk_app_id = '1400000001' AND call_id = 'c4200' ORDER BY position`,
    );
    const runner3 = db.dataSource.createQueryRunner();
    await runner3.startTransaction();
    try {
      const known = JSON.stringify([{ a: '1400000001', c: 'c4200', p: stored[stored.length - 2].p }]);
      const rows: { new: boolean; callId: string; position: string }[] = await runner3.query(INSERT_AND_READ, [batch, known]);
      const seen = rows.filter((r) => !r.new).map((r) => `${r.callId}:${r.position}`);
      expect(seen).toEqual([`c4200:${stored[stored.length - 1].p}`]);
    } finally {
      await runner3.rollbackTransaction();
      await runner3.release();
    }
  });
});
