/**
 * The SQL of `callStats`: over raw calls, and over the hourly rollup plus the raw calls it cannot
 * answer (docs/architecture.md, Stats rollup). Both compute each measure with the same semantics, so
 * they return the same rows and the same numbers.
 */
import type { StatsDimension, StatsMeasure } from '../domain/stats-plan';
import { whereClause } from '../db/sql';

/** [dimension, column, alias] in the order of a stats row. */
const DIMENSIONS: readonly (readonly [StatsDimension, string, string])[] = [
  ['MEDIA_TYPE', 'media_type', 'mediaType'],
  ['CALL_TYPE', 'call_type', 'callType'],
  ['RESULT', 'result', 'result'],
  ['STATUS', 'status', 'status'],
];

const ANSWERED = 'c.accepted_at IS NOT NULL';

/** Each measure over raw calls `c`. Talk figures are over answered calls; `missed` counts NOT_ANSWER. */
const RAW_MEASURES: Record<StatsMeasure, string> = {
  calls: 'count(*)::int',
  answered: `count(*) FILTER (WHERE ${ANSWERED})::int`,
  answerRate: `(count(*) FILTER (WHERE ${ANSWERED}))::float8 / count(*)`,
  missed: `count(*) FILTER (WHERE c.result = 'NOT_ANSWER')::int`,
  totalTalkSeconds: `coalesce(sum(c.talk_seconds) FILTER (WHERE ${ANSWERED}), 0)::float8`,
  avgTalkSeconds: `(avg(c.talk_seconds) FILTER (WHERE ${ANSWERED} AND c.talk_seconds IS NOT NULL))::float8`,
  p50TalkSeconds: `(percentile_cont(0.5) WITHIN GROUP (ORDER BY c.talk_seconds) FILTER (WHERE ${ANSWERED}))::float8`,
  p95TalkSeconds: `(percentile_cont(0.95) WITHIN GROUP (ORDER BY c.talk_seconds) FILTER (WHERE ${ANSWERED}))::float8`,
};

/** The sums the rollup keeps per (app, hour, dimensions), over raw calls `c`; the refresher fills it with these. */
export const PARTIAL_SUMS = {
  calls: 'count(*)',
  answered: `count(*) FILTER (WHERE ${ANSWERED})`,
  missed: `count(*) FILTER (WHERE c.result = 'NOT_ANSWER')`,
  talk_seconds: `coalesce(sum(c.talk_seconds) FILTER (WHERE ${ANSWERED}), 0)`,
  talk_counted: `count(c.talk_seconds) FILTER (WHERE ${ANSWERED})`,
} as const;
type PartialSum = keyof typeof PARTIAL_SUMS;

/**
 * Each measure the rollup can give, from partial sums `p`, and the sums it needs. `avg(int)` is
 * sum / count in numeric, so the same division of the same sums gives the same float.
 */
const ROLLUP_MEASURES: Partial<Record<StatsMeasure, readonly [string, readonly PartialSum[]]>> = {
  calls: ['sum(p.calls)::int', ['calls']],
  answered: ['sum(p.answered)::int', ['answered']],
  answerRate: ['sum(p.answered)::float8 / sum(p.calls)', ['answered', 'calls']],
  missed: ['sum(p.missed)::int', ['missed']],
  totalTalkSeconds: ['sum(p.talk_seconds)::float8', ['talk_seconds']],
  avgTalkSeconds: ['(sum(p.talk_seconds) / nullif(sum(p.talk_counted), 0))::float8', ['talk_seconds', 'talk_counted']],
};
const ROLLUP_MEASURE_SQL: Record<string, string> = Object.fromEntries(Object.entries(ROLLUP_MEASURES).map(([m, [sql]]) => [m, sql]));

/** What both statements share: grouping, bucketing and the measures asked for. */
export interface StatsShape {
  readonly groupBy: ReadonlySet<StatsDimension>;
  /** Placeholders of the interval word and the time zone, or null for no buckets. */
  readonly bucket: { readonly interval: string; readonly timeZone: string } | null;
  readonly measures: readonly StatsMeasure[];
}

const bucketOf = (shape: StatsShape, time: string): string =>
  shape.bucket ? `date_trunc(${shape.bucket.interval}, ${time}, ${shape.bucket.timeZone})` : 'NULL::timestamptz';

/** `<t>.col AS "alias"` for a grouped dimension, `NULL AS "alias"` otherwise: always the four columns. */
const dimensionColumns = (shape: StatsShape, t: string, aliased: boolean): string =>
  DIMENSIONS.map(([d, column, alias]) => `${shape.groupBy.has(d) ? `${t}.${column}` : 'NULL::text'} AS ${aliased ? `"${alias}"` : column}`).join(', ');

const measureColumns = (sql: Record<string, string>, measures: readonly StatsMeasure[]): string =>
  measures.map((m) => `, ${sql[m]} AS "${m}"`).join('');

/** The statement over raw calls `c` matching `conditions`. */
export function rawStatsSql(shape: StatsShape, conditions: readonly string[]): string {
  return `SELECT ${bucketOf(shape, 'c.started_at')} AS bucket, ${dimensionColumns(shape, 'c', true)}${measureColumns(RAW_MEASURES, shape.measures)}
    FROM calls c ${whereClause(conditions)}
    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`;
}

/** Where the rollup statement reads what: each list of conditions is over its own alias. */
export interface RollupSources {
  /** Over `h` (call_stats_hourly) and `d` (call_stats_dirty): the apps, and the dimension filters for `h`. */
  readonly rollup: readonly string[];
  readonly dirty: readonly string[];
  /** Over `c`: the request's whole filter. */
  readonly calls: readonly string[];
  /** Placeholders of the whole hours the rollup answers, `[from, to)`; null = unbounded. */
  readonly from: string | null;
  readonly to: string | null;
  /** Whether the request's range reaches before `from` / from `to` on (raw calls there). */
  readonly before: boolean;
  readonly after: boolean;
  /** Whether calls with no start time match (no time range): they have no hour in the rollup. */
  readonly unstarted: boolean;
  /** Read `call_stats_hourly_totals` (one row per app and hour): the request neither groups nor filters by a dimension. */
  readonly totals: boolean;
}

const withinWindow = (src: RollupSources, col: string): string[] => [
  ...(src.from ? [`${col} >= ${src.from}`] : []),
  ...(src.to ? [`${col} < ${src.to}`] : []),
];
const groupKeys = (shape: StatsShape, first: string, t: string): string =>
  [first, ...DIMENSIONS.filter(([d]) => shape.groupBy.has(d)).map(([, column]) => `${t}.${column}`)].join(', ');

/** Partial sums by bucket of the rollup's clean hours in the window: added up by hour first, then bucketed. */
function rollupPart(shape: StatsShape, src: RollupSources, sums: readonly PartialSum[]): string {
  const clean = 'NOT EXISTS (SELECT 1 FROM dirty d WHERE d.sdk_app_id = h.sdk_app_id AND d.hour = h.hour)';
  return `SELECT ${bucketOf(shape, 'x.hour')} AS bucket, ${dimensionColumns(shape, 'x', false)}${sums.map((s) => `, sum(x.${s}) AS ${s}`).join('')}
     FROM (SELECT h.hour, ${dimensionColumns(shape, 'h', false)}${sums.map((s) => `, sum(h.${s}) AS ${s}`).join('')}
       FROM ${src.totals ? 'call_stats_hourly_totals' : 'call_stats_hourly'} h
       ${whereClause([...src.rollup, ...withinWindow(src, 'h.hour'), clean])}
       GROUP BY ${groupKeys(shape, 'h.hour', 'h')}) x
     GROUP BY ${groupKeys(shape, '1', 'x')}`;
}

/** Partial sums by bucket of raw calls read `from` (a source naming calls `c`), each call bucketed by its start time. */
function rawPart(shape: StatsShape, src: RollupSources, sums: readonly PartialSum[], from: string, extra: readonly string[]): string {
  return `SELECT ${bucketOf(shape, 'c.started_at')} AS bucket, ${dimensionColumns(shape, 'c', false)}${sums.map((s) => `, ${PARTIAL_SUMS[s]} AS ${s}`).join('')}
     FROM ${from} ${whereClause([...src.calls, ...extra])} GROUP BY ${groupKeys(shape, '1', 'c')}`;
}

/**
 * Partial sums by bucket from the rollup's clean hours in the window, plus raw calls for what it does
 * not hold: hours still marked dirty, the parts of the range outside the window, unstarted calls.
 * Only the rollup is bucketed by hour.
 */
export function rollupStatsSql(shape: StatsShape, src: RollupSources): string {
  const sums = [...new Set<PartialSum>(shape.measures.flatMap((m) => ROLLUP_MEASURES[m]?.[1] ?? []))];
  const raw = (from: string, extra: readonly string[]) => rawPart(shape, src, sums, from, extra);
  const parts = [
    rollupPart(shape, src, sums),
    raw(`dirty d JOIN calls c ON c.sdk_app_id = d.sdk_app_id AND c.started_at >= d.hour AND c.started_at < d.hour + interval '1 hour'`, []),
    ...(src.from && src.before ? [raw('calls c', [`c.started_at < ${src.from}`])] : []),
    ...(src.to && src.after ? [raw('calls c', [`c.started_at >= ${src.to}`])] : []),
    ...(src.unstarted ? [raw('calls c', ['c.started_at IS NULL'])] : []),
  ];
  return `WITH dirty AS MATERIALIZED (
      SELECT d.sdk_app_id, d.hour FROM call_stats_dirty d ${whereClause([...src.dirty, ...withinWindow(src, 'd.hour')])}
    ), parts AS (
      ${parts.join('\n      UNION ALL\n      ')}
    )
    SELECT p.bucket, ${dimensionColumns(shape, 'p', true)}${measureColumns(ROLLUP_MEASURE_SQL, shape.measures)}
    FROM parts p
    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`;
}
