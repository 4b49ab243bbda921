import fc from 'fast-check';
import type { Logger } from 'typeorm';
import { scopeOf } from '../../src/api-keys/api-key.repository';
import { StatsRollupRepository } from '../../src/calls/stats-rollup.repository';
import { StatsRepository } from '../../src/calls/stats.repository';
import { ALL_APPS } from '../../src/domain/app-scope';
import { STATS_MEASURES, type StatsRequest } from '../../src/domain/stats-plan';
import { CALL_RESULTS, CALL_STATUSES } from '../../src/domain/vocabulary';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { insertCalls, randomCalls, refreshAll, rollupDrift } from '../support/stats';

const [A, B, C] = ['1400000001', '1400000002', '1400000003'];

/** Remembers whether the last statement read the rollup. */
class RollupReads implements Logger {
  last = '';
  logQuery(query: string): void {
    this.last = query;
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}

const reads = new RollupReads();
let db: TestDatabase;
let rollup: StatsRollupRepository;

beforeAll(async () => {
  db = await openTestDatabase(reads);
  rollup = new StatsRollupRepository(db.dataSource);
  await insertCalls(db.dataSource, randomCalls([A, B, C], 1500, 11));
  await refreshAll(rollup);
  // Changes after the rollup ran: ringing calls end, results change, calls move to another hour or go away.
  const ds = db.dataSource;
  await ds.query(`UPDATE calls SET status = 'ENDED', result = 'NORMAL_END', accepted_at = started_at + interval '5 seconds', talk_seconds = 42 WHERE status = 'RINGING' AND id % 3 = 0`);
  await ds.query(`UPDATE calls SET result = 'REJECT' WHERE result = 'NOT_ANSWER' AND id % 4 = 0`);
  await ds.query(`UPDATE calls SET started_at = started_at + interval '3 hours 10 minutes' WHERE id % 17 = 0`);
  await ds.query(`DELETE FROM calls WHERE id % 29 = 0`);
  await insertCalls(ds, randomCalls([A, B, C], 200, 12), 'new');
  // The way ingest writes: INSERT … ON CONFLICT DO UPDATE over existing and new calls.
  await ds.query(`
    INSERT INTO calls (sdk_app_id, call_id, call_type, media_type, status, result, started_at, accepted_at, talk_seconds, participant_count, last_event_at, last_position)
    SELECT sdk_app_id, call_id || CASE WHEN id % 2 = 0 THEN '' ELSE '-copy' END, call_type, media_type, 'ENDED', 'CANCEL', started_at, NULL, NULL, 2, now(), 1
    FROM calls WHERE id % 11 = 0
    ON CONFLICT ON CONSTRAINT uq_calls_app_call DO UPDATE SET status = EXCLUDED.status, result = EXCLUDED.result, accepted_at = NULL, talk_seconds = NULL`);
  await rollup.refresh(7); // a few hours refreshed, the rest still dirty
}, 60000);
afterAll(() => db.drop());

const instant = fc.oneof(
  fc.integer({ min: Date.parse('2024-02-25T00:00Z') / 3600000, max: Date.parse('2024-11-12T00:00Z') / 3600000 }).map((h) => new Date(h * 3600000)),
  fc.integer({ min: Date.parse('2024-02-25T00:00Z'), max: Date.parse('2024-11-12T00:00Z') }).map((ms) => new Date(ms)),
);
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const requests: fc.Arbitrary<[ReturnType<typeof scopeOf>, StatsRequest]> = fc.tuple(
  fc.constantFrom(ALL_APPS, scopeOf([A]), scopeOf([A, B]), scopeOf([C])),
  fc.record({
    filter: fc.record(
      {
        sdkAppId: optional(fc.constantFrom(A, B, '1499999999')),
        dimensions: fc.oneof(
          fc.constant({}),
          fc.record(
            {
              mediaType: fc.constantFrom('AUDIO' as const, 'VIDEO' as const),
              callType: fc.constantFrom('SINGLE' as const, 'GROUP' as const),
              status: fc.subarray([...CALL_STATUSES]),
              result: fc.subarray([...CALL_RESULTS]),
            },
            { requiredKeys: [] },
          ),
        ),
        startedAt: optional(
          fc.oneof(
            fc.record({ from: instant }),
            fc.record({ to: instant }),
            fc.tuple(instant, fc.integer({ min: 0, max: 40 * 86_400_000 })).map(([from, span]) => ({ from, to: new Date(from.getTime() + span) })),
          ),
        ),
        userId: fc.oneof({ arbitrary: fc.constant(undefined), weight: 14 }, { arbitrary: fc.constant('nobody'), weight: 1 }),
      },
      { requiredKeys: ['dimensions'] },
    ).map(({ dimensions, ...f }) => ({ ...f, ...dimensions })),
    groupBy: fc.oneof(fc.constant([]), fc.subarray(['MEDIA_TYPE', 'CALL_TYPE', 'RESULT', 'STATUS'] as const)),
    interval: fc.constantFrom(null, 'HOUR' as const, 'DAY' as const, 'WEEK' as const, 'MONTH' as const),
    timeZone: fc.oneof(
      { arbitrary: fc.constantFrom('UTC', 'Asia/Shanghai', 'America/New_York', 'Europe/London'), weight: 3 },
      { arbitrary: fc.constantFrom('Asia/Kolkata', 'Australia/Adelaide', 'America/Caracas'), weight: 1 },
    ),
    measures: fc.oneof(
      { arbitrary: fc.subarray(STATS_MEASURES.filter((m) => !m.startsWith('p'))), weight: 4 },
      { arbitrary: fc.subarray([...STATS_MEASURES]), weight: 1 },
    ),
  }),
);

/** Runs random requests through both paths; returns how many each rollup table answered. */
async function compareWithRaw(runs: number): Promise<{ byDimensions: number; totals: number }> {
  const withRollup = new StatsRepository(db.dataSource, true);
  const raw = new StatsRepository(db.dataSource, false);
  const answered = { byDimensions: 0, totals: 0 };
  await fc.assert(
    fc.asyncProperty(requests, async ([scope, request]) => {
      const answer = await withRollup.callStats(scope, request);
      if (reads.last.includes('call_stats_hourly_totals')) answered.totals++;
      else if (reads.last.includes('call_stats_hourly')) answered.byDimensions++;
      expect(answer).toEqual(await raw.callStats(scope, request));
    }),
    { numRuns: runs, seed: 20261126 },
  );
  return answered;
}

describe('callStats from the hourly rollup', () => {
  it('answers exactly like raw calls while updated hours are still marked dirty', async () => {
    expect(await rollup.dirtyHours()).toBeGreaterThan(0);
    const answered = await compareWithRaw(200);
    expect(answered.byDimensions).toBeGreaterThan(30);
    expect(answered.totals).toBeGreaterThan(15);
  }, 120000);

  it('answers exactly like raw calls from the rollup alone once every hour is refreshed', async () => {
    await refreshAll(rollup);
    expect(await rollup.dirtyHours()).toBe(0);
    expect(await rollupDrift(db.dataSource)).toEqual([]);
    const answered = await compareWithRaw(200);
    expect(answered.byDimensions).toBeGreaterThan(30);
    expect(answered.totals).toBeGreaterThan(15);
  }, 120000);
});
