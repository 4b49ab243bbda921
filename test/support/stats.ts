import fc from 'fast-check';
import type { DataSource } from 'typeorm';
import type { StatsRollupRepository } from '../../src/calls/stats-rollup.repository';

/** A row of `calls` with only what stats read. */
export interface StatsCall {
  readonly app: string;
  readonly callType: string | null;
  readonly mediaType: string | null;
  readonly status: string;
  readonly result: string | null;
  readonly startedAt: string | null;
  readonly acceptedAt: string | null;
  readonly talkSeconds: number | null;
}

const HOUR = 3_600_000;
const ms = (iso: string) => Date.parse(iso);

/**
 * Start times that matter to buckets: most in March 2024 (US and EU clocks go forward), some around
 * the end of October (they go back), some on the hour, a few with no start or outside 2001–2060.
 */
const startedAt = fc.oneof(
  { arbitrary: fc.integer({ min: ms('2024-03-01T00:00Z'), max: ms('2024-04-10T00:00Z') }), weight: 12 },
  { arbitrary: fc.integer({ min: ms('2024-10-25T00:00Z'), max: ms('2024-11-10T00:00Z') }), weight: 4 },
  { arbitrary: fc.integer({ min: ms('2024-03-01T00:00Z') / HOUR, max: ms('2024-04-10T00:00Z') / HOUR }).map((h) => h * HOUR), weight: 2 },
  { arbitrary: fc.constantFrom(null, ms('1999-12-31T23:30:00Z'), ms('2062-01-01T10:00:00Z')), weight: 1 },
);

const call = (apps: readonly string[]): fc.Arbitrary<StatsCall> =>
  fc
    .record({
      app: fc.constantFrom(...apps),
      callType: fc.constantFrom('SINGLE', 'GROUP', null),
      mediaType: fc.constantFrom('AUDIO', 'VIDEO', null),
      status: fc.constantFrom('RINGING', 'ONGOING', 'ENDED'),
      result: fc.constantFrom(null, 'NORMAL_END', 'NOT_ANSWER', 'REJECT', 'CANCEL', 'CALL_BUSY'),
      start: startedAt,
      answered: fc.boolean(),
      talkSeconds: fc.option(fc.integer({ min: 0, max: 4000 }), { freq: 5 }),
    })
    .map(({ start, answered, ...c }) => ({
      ...c,
      startedAt: start === null ? null : new Date(start).toISOString(),
      acceptedAt: answered && start !== null ? new Date(start + 7000).toISOString() : null,
    }));

/** `n` random calls over `apps`, the same for the same seed. */
export const randomCalls = (apps: readonly string[], n: number, seed: number): StatsCall[] => fc.sample(call(apps), { numRuns: n, seed });

/** Inserts calls straight into `calls` (ids `<prefix>-<n>`), as one statement. */
export async function insertCalls(ds: DataSource, calls: readonly StatsCall[], prefix = 'c'): Promise<void> {
  await ds.query(
    `INSERT INTO calls (sdk_app_id, call_id, call_type, media_type, status, result, started_at, accepted_at, talk_seconds, participant_count, last_event_at, last_position)
     SELECT x.app, $2 || '-' || x.n, x."callType", x."mediaType", x.status, x.result, x."startedAt", x."acceptedAt", x."talkSeconds", 2, now(), 1
     FROM jsonb_to_recordset($1::jsonb) AS x(n int, app text, "callType" text, "mediaType" text, status text, result text,
       "startedAt" timestamptz, "acceptedAt" timestamptz, "talkSeconds" int)`,
    [JSON.stringify(calls.map((c, n) => ({ n, ...c }))), prefix],
  );
}

/** Refreshes until no hour is marked. */
export async function refreshAll(rollup: StatsRollupRepository): Promise<void> {
  while ((await rollup.refresh(100)) !== 0);
}

const ROLLUP_COLUMNS = 'sdk_app_id, hour, call_type, media_type, result, status, calls, answered, missed, talk_seconds, talk_counted';
const FROM_CALLS = `
  SELECT sdk_app_id, date_trunc('hour', started_at, 'UTC') AS hour, call_type, media_type, result, status, count(*)::int AS calls,
    (count(*) FILTER (WHERE accepted_at IS NOT NULL))::int AS answered, (count(*) FILTER (WHERE result = 'NOT_ANSWER'))::int AS missed,
    coalesce(sum(talk_seconds) FILTER (WHERE accepted_at IS NOT NULL), 0)::bigint AS talk_seconds,
    (count(talk_seconds) FILTER (WHERE accepted_at IS NOT NULL))::int AS talk_counted
  FROM calls WHERE started_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6`;

const TOTAL_COLUMNS = 'sdk_app_id, hour, calls, answered, missed, talk_seconds, talk_counted';
const TOTALS_FROM_CALLS = `
  SELECT sdk_app_id, hour, sum(calls)::int AS calls, sum(answered)::int AS answered, sum(missed)::int AS missed,
    sum(talk_seconds)::bigint AS talk_seconds, sum(talk_counted)::int AS talk_counted
  FROM (${FROM_CALLS}) x GROUP BY 1, 2`;

/** Rows where the rollup tables and a fresh aggregation of `calls` differ (either side); empty when equal. */
export async function rollupDrift(ds: DataSource): Promise<unknown[]> {
  return ds.query(`
    (SELECT 'rollup only' AS side, * FROM (SELECT ${ROLLUP_COLUMNS} FROM call_stats_hourly EXCEPT ALL ${FROM_CALLS}) x)
    UNION ALL
    (SELECT 'calls only' AS side, * FROM (${FROM_CALLS} EXCEPT ALL SELECT ${ROLLUP_COLUMNS} FROM call_stats_hourly) y)
    UNION ALL
    (SELECT 'totals only', sdk_app_id, hour, NULL, NULL, NULL, NULL, calls, answered, missed, talk_seconds, talk_counted
     FROM (SELECT ${TOTAL_COLUMNS} FROM call_stats_hourly_totals EXCEPT ALL ${TOTALS_FROM_CALLS}) z)
    UNION ALL
    (SELECT 'calls only (totals)', sdk_app_id, hour, NULL, NULL, NULL, NULL, calls, answered, missed, talk_seconds, talk_counted
     FROM (${TOTALS_FROM_CALLS} EXCEPT ALL SELECT ${TOTAL_COLUMNS} FROM call_stats_hourly_totals) w)`);
}
