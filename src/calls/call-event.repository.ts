import type { DataSource } from 'typeorm';
import { appsToRead, type AppScope } from '../domain/app-scope';
import { countRows, queryPage, type Keyset, type Page, type PageArgs } from '../db/pagination';
import { groupByCall, type CallKey } from '../domain/call-key';
import { AppError } from '../domain/app-error';
import { eventPosition } from '../domain/cursor';
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
  /**
   * `primary`: where the retention floor is read (default: `dataSource`). Reading it on the primary
   * while rows come from a replica can only find it higher than the rows' snapshot, never lower: at
   * worst a page is refused that the replica could still answer whole.
   */
  constructor(
    private readonly dataSource: DataSource,
    private readonly primary: DataSource = dataSource,
  ) {}

  /**
   * A page of events. With `after`, the page is refused (`CURSOR_EXPIRED`) when retention deleted an
   * event after that cursor: the page would lack it. The floor is read after the page, so a delete that
   * commits while the page is read is either in the page's rows or in the floor. An empty page read on
   * the primary also refuses a cursor beyond every position the database gave out ({@link checkReached}).
   */
  async list(scope: AppScope, filter: CallEventFilter | null | undefined, args: PageArgs): Promise<Page<CallEventRecord>> {
    const params = new SqlParams();
    const conditions = eventConditions(scope, filter, params);
    const page = await queryPage(this.dataSource, { columns: EVENT_COLUMNS, source: 'call_events e', conditions, params }, KEYSET, args);
    if (args.after != null && args.rows !== false) {
      const after = eventPosition('after', args.after);
      await this.checkRetention(after);
      // Nothing after the cursor: it may come from another database's history (read on the primary only).
      if (page.nodes.length === 0 && this.dataSource === this.primary) await this.checkReached(after);
    }
    return page;
  }

  /**
   * Throws `CURSOR_EXPIRED` when retention deleted an event after `afterPosition`. Retention keeps every
   * event after some position and deletes only below it (docs/architecture.md, Event partitions and
   * retention), so that is a cursor below the highest position it deleted; every stored event's cursor
   * is at or above it.
   */
  private async checkRetention(afterPosition: string): Promise<void> {
    const rows: { floor: string }[] = await this.primary.query(`SELECT position::text AS floor FROM event_retention_floor`);
    const floor = rows[0]?.floor;
    if (floor !== undefined && BigInt(floor) > BigInt(afterPosition)) {
      throw new AppError(
        'CURSOR_EXPIRED',
        `after: expected a cursor at or after position ${floor} (retention, RETENTION_DAYS, deleted the events up to there), got position ${BigInt(afterPosition)}: ` +
          'events after it are gone; read again without `after`',
        'after',
      );
    }
  }

  /**
   * Throws `CURSOR_EXPIRED` when `afterPosition` is beyond every position this database has given out:
   * the cursor comes from before a restore or a failover, and events after it here would be skipped.
   * Only against the primary (a replica's sequence may lag behind its cursors). Once the database has
   * given out positions past the cursor, nothing tells such a cursor apart.
   */
  private async checkReached(afterPosition: string): Promise<void> {
    const rows: { head: string }[] = await this.dataSource.query(`SELECT last_value::text AS head FROM call_events_position_seq`);
    if (BigInt(afterPosition) > BigInt(rows[0].head)) {
      throw new AppError(
        'CURSOR_EXPIRED',
        `after: expected a cursor of this database, got position ${BigInt(afterPosition)}, beyond every position it gave out: ` +
          'it comes from before a restore or a failover; subscribe again without `after`',
        'after',
      );
    }
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
