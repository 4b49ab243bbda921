import type { DataSource } from 'typeorm';
import { appsToRead, type AppScope } from '../domain/app-scope';
import { countRows, queryPage, type Keyset, type Page, type PageArgs } from '../db/pagination';
import { groupByCall, type CallKey } from '../domain/call-key';
import { EVENT_COLUMNS, type CallEventFilter, type CallEventRecord } from './records';
import { appCondition, rangeConditions, SqlParams, whereClause } from '../db/sql';

/** Events are listed in position (commit) order; the cursor is the one subscriptions resume from. */
const KEYSET: Keyset<CallEventRecord> = {
  kind: 'event',
  columns: ['e.position'],
  casts: ['bigint'],
  direction: 'ASC',
  values: (r) => [r.position],
};

export function eventConditions(scope: AppScope, filter: CallEventFilter | null | undefined, params: SqlParams): string[] {
  const f = filter ?? {};
  const out = appCondition('e.sdk_app_id', appsToRead(scope, f.sdkAppId), params);
  if (f.callId) out.push(`e.call_id = ${params.add(f.callId)}`);
  if (f.userId) out.push(`e.user_id = ${params.add(f.userId)}`);
  if (f.role) out.push(`e.role = ${params.add(f.role)}`);
  if (f.mediaType) out.push(`e.media_type = ${params.add(f.mediaType)}`);
  if (f.callType) out.push(`e.call_type = ${params.add(f.callType)}`);
  if (f.events?.length) out.push(`e.event_type = ANY(${params.add(f.events)}::text[])`);
  out.push(...rangeConditions('e.event_time', f.eventTime, params));
  return out;
}

/** Reads stored events; limited to the caller's apps. */
export class CallEventRepository {
  constructor(private readonly dataSource: DataSource) {}

  list(scope: AppScope, filter: CallEventFilter | null | undefined, args: PageArgs): Promise<Page<CallEventRecord>> {
    const params = new SqlParams();
    const conditions = eventConditions(scope, filter, params);
    return queryPage(this.dataSource, { columns: EVENT_COLUMNS, source: 'call_events e', conditions, params }, KEYSET, args);
  }

  count(scope: AppScope, filter: CallEventFilter | null | undefined): Promise<number> {
    const params = new SqlParams();
    return countRows(this.dataSource, { source: 'call_events e', conditions: eventConditions(scope, filter, params), params });
  }

  /** Events of many calls at once, each list in position order, in the order of `keys`. */
  async byCalls(scope: AppScope, keys: readonly CallKey[]): Promise<CallEventRecord[][]> {
    const params = new SqlParams();
    const apps = params.add(keys.map((k) => k.sdkAppId));
    const ids = params.add(keys.map((k) => k.callId));
    const rows: CallEventRecord[] = await this.dataSource.query(
      `SELECT ${EVENT_COLUMNS} FROM unnest(${apps}::text[], ${ids}::text[]) AS k(a, i)
       CROSS JOIN LATERAL (SELECT * FROM call_events WHERE sdk_app_id = k.a AND call_id = k.i) e
       ${whereClause(appCondition('e.sdk_app_id', appsToRead(scope), params))}
       ORDER BY e.position`,
      params.values,
    );
    return groupByCall(keys, rows);
  }
}
