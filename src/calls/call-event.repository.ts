import type { DataSource } from 'typeorm';
import { appsToRead, type AppScope } from '../domain/app-scope';
import { finishPage, planPage, type Keyset, type Page, type PageArgs } from './pagination';
import { EVENT_COLUMNS, type CallEventFilter, type CallEventRecord, type CallKey } from './records';
import { appCondition, rangeConditions, SqlParams, whereClause } from './sql';

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

  async list(scope: AppScope, filter: CallEventFilter | null | undefined, args: PageArgs): Promise<Page<CallEventRecord>> {
    const params = new SqlParams();
    const conditions = eventConditions(scope, filter, params);
    const plan = planPage(args, KEYSET, params);
    const rows: CallEventRecord[] = await this.dataSource.query(
      `SELECT ${EVENT_COLUMNS} FROM call_events e ${whereClause([...conditions, ...plan.conditions])} ORDER BY ${plan.orderBy} LIMIT ${plan.limit}`,
      params.values,
    );
    return finishPage(rows, plan, KEYSET, args);
  }

  async count(scope: AppScope, filter: CallEventFilter | null | undefined): Promise<number> {
    const params = new SqlParams();
    const rows: { n: number }[] = await this.dataSource.query(
      `SELECT count(*)::int AS n FROM call_events e ${whereClause(eventConditions(scope, filter, params))}`,
      params.values,
    );
    return rows[0].n;
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
    const byKey = new Map<string, CallEventRecord[]>(keys.map((k) => [`${k.sdkAppId}\n${k.callId}`, []]));
    for (const row of rows) byKey.get(`${row.sdkAppId}\n${row.callId}`)?.push(row);
    return keys.map((k) => byKey.get(`${k.sdkAppId}\n${k.callId}`) ?? []);
  }
}
