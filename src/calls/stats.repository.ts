import type { DataSource } from 'typeorm';
import { AppError } from '../domain/app-error';
import type { AppScope } from '../domain/app-scope';
import type { CallResult, CallStatus, CallType, MediaType } from '../domain/vocabulary';
import { callConditions } from './call.repository';
import type { CallFilter } from './records';
import { SqlParams, whereClause } from '../db/sql';

export type StatsDimension = 'MEDIA_TYPE' | 'CALL_TYPE' | 'RESULT' | 'STATUS';
export type StatsInterval = 'HOUR' | 'DAY' | 'WEEK' | 'MONTH';

/** One aggregate row. Talk figures are over answered calls; `missed` counts NOT_ANSWER results. */
export interface CallStatsRecord {
  readonly bucket: Date | null;
  readonly mediaType: MediaType | null;
  readonly callType: CallType | null;
  readonly result: CallResult | null;
  readonly status: CallStatus | null;
  readonly calls: number;
  readonly answered: number;
  readonly answerRate: number | null;
  readonly missed: number;
  readonly totalTalkSeconds: number;
  readonly avgTalkSeconds: number | null;
  readonly p50TalkSeconds: number | null;
  readonly p95TalkSeconds: number | null;
}

const DIMENSION_COLUMN: Record<StatsDimension, [column: string, alias: string]> = {
  MEDIA_TYPE: ['c.media_type', 'mediaType'],
  CALL_TYPE: ['c.call_type', 'callType'],
  RESULT: ['c.result', 'result'],
  STATUS: ['c.status', 'status'],
};

/** True for an IANA zone name PostgreSQL and Node both know (`UTC`, `Asia/Shanghai`, …). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return /^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/.test(zone);
  } catch {
    return false;
  }
}

/** Aggregates for BI tools, computed in SQL over `calls` (bucketed by start time). */
export class StatsRepository {
  constructor(private readonly dataSource: DataSource) {}

  async callStats(
    scope: AppScope,
    filter: CallFilter | null | undefined,
    groupBy: readonly StatsDimension[],
    interval: StatsInterval | null,
    timeZone: string,
  ): Promise<CallStatsRecord[]> {
    if (!isTimeZone(timeZone)) throw new AppError('BAD_USER_INPUT', `timeZone: expected an IANA time zone such as "Asia/Shanghai", got "${timeZone}"`, 'timeZone');
    const params = new SqlParams();
    const conditions = callConditions(scope, filter, params);
    const dims = [...new Set(groupBy)].map((d) => DIMENSION_COLUMN[d]);
    const bucket = interval
      ? `date_trunc(${params.add(interval.toLowerCase())}, c.started_at, ${params.add(timeZone)})`
      : 'NULL::timestamptz';
    const rows: CallStatsRecord[] = await this.dataSource.query(
      `SELECT ${bucket} AS bucket,
         ${Object.values(DIMENSION_COLUMN).map(([column, alias]) => `${dims.some(([c]) => c === column) ? column : 'NULL'} AS "${alias}"`).join(', ')},
         count(*)::int AS calls,
         count(*) FILTER (WHERE c.accepted_at IS NOT NULL)::int AS answered,
         (count(*) FILTER (WHERE c.accepted_at IS NOT NULL))::float8 / count(*) AS "answerRate",
         count(*) FILTER (WHERE c.result = 'NOT_ANSWER')::int AS missed,
         coalesce(sum(c.talk_seconds) FILTER (WHERE c.accepted_at IS NOT NULL), 0)::float8 AS "totalTalkSeconds",
         (avg(c.talk_seconds) FILTER (WHERE c.accepted_at IS NOT NULL AND c.talk_seconds IS NOT NULL))::float8 AS "avgTalkSeconds",
         (percentile_cont(0.5) WITHIN GROUP (ORDER BY c.talk_seconds) FILTER (WHERE c.accepted_at IS NOT NULL))::float8 AS "p50TalkSeconds",
         (percentile_cont(0.95) WITHIN GROUP (ORDER BY c.talk_seconds) FILTER (WHERE c.accepted_at IS NOT NULL))::float8 AS "p95TalkSeconds"
       FROM calls c ${whereClause(conditions)}
       GROUP BY 1, 2, 3, 4, 5
       ORDER BY 1, 2, 3, 4, 5`,
      params.values,
    );
    return rows;
  }
}
