import type { DataSource } from 'typeorm';
import { appsToRead, type AppScope } from '../domain/app-scope';
import { countRows, queryPage, queryCompiledPage, type Keyset, type Page, type PageArgs, type RenderedConnectionEntry } from '../db/pagination';
import {
  callListColumns,
  joinedCallColumns,
  PARTICIPANT_COLUMNS,
  PARTICIPANT_ORDER,
  participantColumns,
  participantProjection,
  takeCallLists,
  takeJoinedCall,
  takeParticipant,
  type CallListRecords,
  type CallLists,
  type CallRow,
  type ParticipantFilter,
  type ParticipantRecord,
  type ParticipantRow,
  type RenderedShape,
} from './records';
import { appCondition, rangeConditions, SqlParams, utcText, whereClause } from '../db/sql';

const KEYSET: Keyset<ParticipantRow> = {
  kind: 'participant',
  columns: ['p.started_at', 'p.call_ref', 'p.user_id'],
  casts: ['timestamptz', 'bigint', 'text'],
  direction: 'DESC',
  values: (r) => [r.startedAt?.toISOString() ?? '', r.callRef, r.userId],
  texts: [[utcText('p.started_at'), 'timestamp'], ['p.call_ref::text'], ['p.user_id']],
};

const WITH_CALLS = 'call_participants p JOIN calls c ON c.id = p.call_ref AND c.sdk_app_id = p.sdk_app_id';

function participantConditions(scope: AppScope, filter: ParticipantFilter | null | undefined, params: SqlParams): string[] {
  const f = filter ?? {};
  const out = appCondition('p.sdk_app_id', appsToRead(scope, f.sdkAppId), params);
  if (f.userId) out.push(`p.user_id = ${params.add(f.userId)}`);
  if (f.role) out.push(`p.role = ${params.add(f.role)}`);
  if (f.mediaType) out.push(`p.media_type = ${params.add(f.mediaType)}`);
  if (f.callType) out.push(`p.call_type = ${params.add(f.callType)}`);
  if (f.outcome?.length) out.push(`p.outcome = ANY(${params.add(f.outcome)}::text[])`);
  out.push(...rangeConditions('p.started_at', f.startedAt, params));
  return out;
}

/** Reads participants: a user's call history from their own side. Limited to the caller's apps. */
export class ParticipantRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** A page of participants; with `fields` (record field names), only those and the keys are read. */
  list(scope: AppScope, filter: ParticipantFilter | null | undefined, args: PageArgs, fields?: ReadonlySet<string>): Promise<Page<ParticipantRow>> {
    const params = new SqlParams();
    const conditions = participantConditions(scope, filter, params);
    return queryPage(this.dataSource, { columns: participantColumns(fields), source: 'call_participants p', conditions, params }, KEYSET, args);
  }

  /**
   * `list` with each participant's call read in the same statement (for a history that shows the
   * calls: one round trip instead of two), each side narrowed to its `fields` when given.
   */
  async listWithCalls(
    scope: AppScope,
    filter: ParticipantFilter | null | undefined,
    args: PageArgs,
    fields: { readonly participant?: ReadonlySet<string>; readonly call?: ReadonlySet<string>; readonly callLists?: CallLists } = {},
  ): Promise<Page<ParticipantRow & { readonly call: CallRow & CallListRecords }>> {
    const params = new SqlParams();
    const conditions = participantConditions(scope, filter, params);
    const callLists = fields.callLists ?? {};
    const page = await queryPage<ParticipantRow & Record<string, unknown>>(
      this.dataSource,
      {
        columns: [participantColumns(fields.participant), joinedCallColumns(fields.call), ...callListColumns(callLists, 'call.')].join(', '),
        source: WITH_CALLS,
        conditions,
        params,
      },
      KEYSET,
      args,
    );
    // The participant keeps only its own fields: `call.*` columns would ride along into every node.
    const nodes = page.nodes.map((row) => ({ ...takeParticipant(row), call: { ...takeJoinedCall(row), ...takeCallLists(row, callLists, 'call.') } }));
    return { ...page, nodes };
  }

  /**
   * A page as its connection object (`shape`), each node a participant of `node` (with its call when
   * `node` has one), built from one statement's rows without resolvers; null for a backward page.
   */
  compiledPage(scope: AppScope, filter: ParticipantFilter | null | undefined, args: PageArgs, node: RenderedShape, shape: readonly RenderedConnectionEntry[]): Promise<Record<string, unknown> | null> {
    const params = new SqlParams();
    const conditions = participantConditions(scope, filter, params);
    const source = node.some((e) => e.kind === 'call') ? WITH_CALLS : 'call_participants p';
    return queryCompiledPage(this.dataSource, { source, conditions, params }, KEYSET, args, participantProjection(node), shape, () => this.count(scope, filter));
  }

  count(scope: AppScope, filter: ParticipantFilter | null | undefined): Promise<number> {
    const params = new SqlParams();
    return countRows(this.dataSource, { source: 'call_participants p', conditions: participantConditions(scope, filter, params), params });
  }

  /** Participants of many calls at once (by call ref), grouped in the order of `refs`. */
  async byCallRefs(scope: AppScope, refs: readonly string[]): Promise<ParticipantRecord[][]> {
    const params = new SqlParams();
    const conditions = [`p.call_ref = ANY(${params.add(refs)}::bigint[])`, ...appCondition('p.sdk_app_id', appsToRead(scope), params)];
    const rows: ParticipantRecord[] = await this.dataSource.query(
      `SELECT ${PARTICIPANT_COLUMNS} FROM call_participants p ${whereClause(conditions)}
       ORDER BY p.call_ref, ${PARTICIPANT_ORDER}`,
      params.values,
    );
    const byRef = new Map<string, ParticipantRecord[]>(refs.map((r) => [r, []]));
    for (const row of rows) byRef.get(row.callRef)?.push(row);
    return refs.map((r) => byRef.get(r) ?? []);
  }
}
