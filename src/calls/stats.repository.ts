import type { DataSource } from 'typeorm';
import { AppError } from '../domain/app-error';
import { appsToRead, type AppScope } from '../domain/app-scope';
import type { CallResult, CallStatus, CallType, MediaType } from '../domain/vocabulary';
import { rawOnlyReason, rollupWindow, ZONE_CHECK_WINDOW, type RollupWindow, type StatsMeasure, type StatsRequest } from '../domain/stats-plan';
import { callConditions } from './call.repository';
import type { CallFilter } from './records';
import { rawStatsSql, rollupStatsSql, type RollupSources, type StatsShape } from './stats-sql';
import { ZoneHours } from './zone-hours';
import { appCondition, SqlParams } from '../db/sql';

export type { StatsDimension, StatsInterval } from '../domain/stats-plan';

/**
 * One aggregate row: the bucket and grouped dimensions, and the measures that were asked for (the
 * others are absent). Talk figures are over answered calls; `missed` counts NOT_ANSWER results.
 */
export interface CallStatsRecord extends Partial<Record<StatsMeasure, number | null>> {
  readonly bucket: Date | null;
  readonly mediaType: MediaType | null;
  readonly callType: CallType | null;
  readonly result: CallResult | null;
  readonly status: CallStatus | null;
}

/** True for an IANA zone name PostgreSQL and Node both know (`UTC`, `Asia/Shanghai`, …). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return /^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/.test(zone);
  } catch {
    return false;
  }
}

/**
 * Aggregates for BI tools, bucketed by start time. With rollups on, whatever the hourly rollup holds
 * exactly is read from it and the rest from `calls` (docs/architecture.md, Stats rollup); the answer
 * is the same either way.
 */
export class StatsRepository {
  private readonly zones: ZoneHours;

  /** `rollups`: read `call_stats_hourly` where it can answer (false: always scan `calls`). */
  constructor(
    private readonly dataSource: DataSource,
    private readonly rollups = false,
  ) {
    this.zones = new ZoneHours(dataSource);
  }

  async callStats(scope: AppScope, request: StatsRequest): Promise<CallStatsRecord[]> {
    const { timeZone, interval } = request;
    if (!isTimeZone(timeZone)) throw new AppError('BAD_USER_INPUT', `timeZone: expected an IANA time zone such as "Asia/Shanghai", got "${timeZone}"`, 'timeZone');
    const params = new SqlParams();
    const conditions = callConditions(scope, request.filter, params);
    const shape: StatsShape = {
      groupBy: new Set(request.groupBy),
      bucket: interval ? { interval: params.add(interval.toLowerCase()), timeZone: params.add(timeZone) } : null,
      measures: request.measures,
    };
    const window = await this.rollupWindow(request);
    const sql = window ? rollupStatsSql(shape, rollupSources(scope, request, params, conditions, window)) : rawStatsSql(shape, conditions);
    return this.dataSource.query(sql, params.values);
  }

  /** The whole hours the rollup answers for `request`, or null to read only raw calls. */
  private async rollupWindow(request: StatsRequest): Promise<RollupWindow | null> {
    if (!this.rollups || rawOnlyReason(request) !== null) return null;
    if (request.interval === null || request.timeZone === 'UTC') return rollupWindow(request.filter?.startedAt, 'all');
    return rollupWindow(request.filter?.startedAt, (await this.zones.wholeHours(request.timeZone)) ? ZONE_CHECK_WINDOW : null);
  }
}

/** The conditions of each part of the rollup statement, all limited to the apps of `scope` (docs/design.md, principle 8). */
function rollupSources(scope: AppScope, request: StatsRequest, params: SqlParams, calls: string[], window: RollupWindow): RollupSources {
  const f: CallFilter = request.filter ?? {};
  const apps = appsToRead(scope, f.sdkAppId);
  const rollup = appCondition('h.sdk_app_id', apps, params);
  const appsOnly = rollup.length;
  if (f.mediaType) rollup.push(`h.media_type = ${params.add(f.mediaType)}`);
  if (f.callType) rollup.push(`h.call_type = ${params.add(f.callType)}`);
  if (f.status?.length) rollup.push(`h.status = ANY(${params.add(f.status)}::text[])`);
  if (f.result?.length) rollup.push(`h.result = ANY(${params.add(f.result)}::text[])`);
  return {
    totals: request.groupBy.length === 0 && rollup.length === appsOnly,
    rollup,
    dirty: appCondition('d.sdk_app_id', apps, params),
    calls,
    from: window.from ? params.add(window.from) : null,
    to: window.to ? params.add(window.to) : null,
    before: !f.startedAt?.from || (window.from !== null && f.startedAt.from < window.from),
    after: !f.startedAt?.to || (window.to !== null && f.startedAt.to > window.to),
    unstarted: !f.startedAt?.from && !f.startedAt?.to,
  };
}
