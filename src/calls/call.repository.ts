import type { DataSource } from 'typeorm';
import { AppError } from '../domain/app-error';
import { appsToRead, type AppScope } from '../domain/app-scope';
import { checkCallFilter } from '../domain/live-filter';
import { countRows, queryPage, queryCompiledPage, type Keyset, type Page, type PageArgs, type RenderedConnectionEntry } from '../db/pagination';
import { callKeyText, type CallKey } from '../domain/call-key';
import {
  CALL_COLUMNS,
  callColumns,
  callListColumns,
  callProjection,
  takeCallLists,
  type CallFilter,
  type CallListRecords,
  type CallLists,
  type CallRecord,
  type CallRow,
  type RenderedShape,
} from './records';
import { appCondition, rangeConditions, SqlParams, utcText, whereClause } from '../db/sql';

/** Orders of a call listing. */
export type CallOrder = 'STARTED_AT_DESC' | 'STARTED_AT_ASC';

const keyset = (order: CallOrder): Keyset<CallRow> => ({
  kind: 'call',
  columns: ['c.started_at', 'c.id'],
  casts: ['timestamptz', 'bigint'],
  direction: order === 'STARTED_AT_ASC' ? 'ASC' : 'DESC',
  values: (r) => [r.startedAt?.toISOString() ?? '', r.ref],
  texts: [[utcText('c.started_at'), 'timestamp'], ['c.id::text']],
});

/** Compiles a call filter, always limited to the apps of `scope` (docs/design.md, principle 8). */
export function callConditions(scope: AppScope, filter: CallFilter | null | undefined, params: SqlParams): string[] {
  const f = filter ?? {};
  const apps = appsToRead(scope, f.sdkAppId);
  const out = appCondition('c.sdk_app_id', apps, params);
  if (f.callId) out.push(`c.call_id = ${params.add(f.callId)}`);
  if (f.roomId) out.push(`c.room_id = ${params.add(f.roomId)}`);
  if (f.mediaType) out.push(`c.media_type = ${params.add(f.mediaType)}`);
  if (f.callType) out.push(`c.call_type = ${params.add(f.callType)}`);
  if (f.status?.length) out.push(`c.status = ANY(${params.add(f.status)}::text[])`);
  if (f.result?.length) out.push(`c.result = ANY(${params.add(f.result)}::text[])`);
  out.push(...rangeConditions('c.started_at', f.startedAt, params));
  checkCallFilter(f);
  if (f.userId) {
    const member = [`p.user_id = ${params.add(f.userId)}`, ...appCondition('p.sdk_app_id', apps, params)];
    if (f.role) member.push(`p.role = ${params.add(f.role)}`);
    out.push(`c.id IN (SELECT p.call_ref FROM call_participants p WHERE ${member.join(' AND ')})`);
  }
  return out;
}

/** Reads calls; every method is limited to the apps of the caller's scope. */
export class CallRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * A page of calls; with `fields` (record field names), only those and the keys are read. With
   * `lists.participants` or `lists.events`, each call's participants or events come in the same
   * statement (a board of calls with who is in them: one round trip instead of two).
   */
  async list(
    scope: AppScope,
    filter: CallFilter | null | undefined,
    order: CallOrder,
    args: PageArgs,
    fields?: ReadonlySet<string>,
    lists: CallLists = {},
  ): Promise<Page<CallRow & CallListRecords>> {
    const params = new SqlParams();
    const conditions = callConditions(scope, filter, params);
    const columns = [callColumns(fields), ...callListColumns(lists)].join(', ');
    const page = await queryPage<CallRow & Record<string, unknown>>(this.dataSource, { columns, source: 'calls c', conditions, params }, keyset(order), args);
    if (!lists.participants && !lists.events) return page;
    return { ...page, nodes: page.nodes.map(({ participants, events, ...call }) => ({ ...(call as CallRow), ...takeCallLists({ participants, events }, lists) })) };
  }

  /** A page as its connection object (`shape`), each node a call of `node`, built from one statement's rows without resolvers; null for a backward page. */
  compiledPage(scope: AppScope, filter: CallFilter | null | undefined, order: CallOrder, args: PageArgs, node: RenderedShape, shape: readonly RenderedConnectionEntry[]): Promise<Record<string, unknown> | null> {
    const params = new SqlParams();
    const conditions = callConditions(scope, filter, params);
    return queryCompiledPage(this.dataSource, { source: 'calls c', conditions, params }, keyset(order), args, callProjection(node), shape, () => this.count(scope, filter));
  }

  /**
   * One call by its TRTC id (as {@link findByCallId}) as an object of `node`, built from one
   * statement's row; null when no visible call has that id, undefined when it exists in several
   * visible apps and `sdkAppId` is missing (findByCallId gives that error).
   */
  async compiledOne(scope: AppScope, callId: string, sdkAppId: string | null | undefined, node: RenderedShape): Promise<Record<string, unknown> | null | undefined> {
    const params = new SqlParams();
    const conditions = [`c.call_id = ${params.add(callId)}`, ...appCondition('c.sdk_app_id', appsToRead(scope, sdkAppId), params)];
    const projection = callProjection(node);
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT ${projection.columns.length ? projection.columns.join(', ') : '1 AS "one"'} FROM calls c ${whereClause(conditions)} ORDER BY c.sdk_app_id LIMIT 2`,
      params.values,
    );
    if (rows.length > 1) return undefined;
    return rows[0] ? projection.build(rows[0]) : null;
  }

  count(scope: AppScope, filter: CallFilter | null | undefined): Promise<number> {
    const params = new SqlParams();
    return countRows(this.dataSource, { source: 'calls c', conditions: callConditions(scope, filter, params), params });
  }

  /**
   * One call by its TRTC id; `sdkAppId` is needed only when the id exists in several visible apps.
   * With `fields` (record field names), only those and the keys are read. With `nested.participants`
   * or `nested.events`, its participants (caller first) or its events (in position order) are read
   * in the same statement.
   */
  async findByCallId(
    scope: AppScope,
    callId: string,
    sdkAppId?: string | null,
    fields?: ReadonlySet<string>,
    nested: CallLists = {},
  ): Promise<(CallRow & CallListRecords) | null> {
    const params = new SqlParams();
    const conditions = [`c.call_id = ${params.add(callId)}`, ...appCondition('c.sdk_app_id', appsToRead(scope, sdkAppId), params)];
    const columns = [callColumns(fields), ...callListColumns(nested)];
    const rows: (CallRow & Record<string, unknown>)[] = await this.dataSource.query(
      `SELECT ${columns.join(', ')} FROM calls c ${whereClause(conditions)} ORDER BY c.sdk_app_id LIMIT 2`,
      params.values,
    );
    if (rows.length > 1) {
      throw new AppError('BAD_USER_INPUT', `sdkAppId: expected because call "${callId}" exists in several apps, got nothing`, 'sdkAppId');
    }
    if (!rows[0]) return null;
    const { participants, events, ...call } = rows[0];
    return { ...(call as CallRow), ...takeCallLists({ participants, events }, nested) };
  }

  /** Calls by key, in the order of `keys` (null where not visible): the batch behind `CallEvent.call`. */
  async findByKeys(scope: AppScope, keys: readonly CallKey[]): Promise<(CallRecord | null)[]> {
    const params = new SqlParams();
    const apps = params.add(keys.map((k) => k.sdkAppId));
    const ids = params.add(keys.map((k) => k.callId));
    const rows: CallRecord[] = await this.dataSource.query(
      `SELECT ${CALL_COLUMNS} FROM unnest(${apps}::text[], ${ids}::text[]) AS k(a, i)
       JOIN calls c ON c.sdk_app_id = k.a AND c.call_id = k.i
       ${whereClause(appCondition('c.sdk_app_id', appsToRead(scope), params))}`,
      params.values,
    );
    const byKey = new Map(rows.map((r) => [callKeyText(r), r]));
    return keys.map((k) => byKey.get(callKeyText(k)) ?? null);
  }
}
