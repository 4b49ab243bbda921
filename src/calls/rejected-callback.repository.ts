import type { DataSource } from 'typeorm';
import { finishPage, planPage, type Keyset, type Page, type PageArgs } from './pagination';
import { SqlParams, whereClause } from './sql';

/** A quarantined callback as served to operators. */
export interface RejectedCallbackRecord {
  readonly id: string;
  readonly reason: string;
  readonly errorCode: string;
  readonly sdkAppId: string | null;
  readonly queryString: string;
  readonly rawBody: string;
  readonly bodyBytes: number;
  readonly times: number;
  readonly firstSeenAt: Date;
  readonly lastSeenAt: Date;
}

const KEYSET: Keyset<RejectedCallbackRecord> = {
  kind: 'rejected',
  columns: ['r.id'],
  casts: ['bigint'],
  direction: 'DESC',
  values: (r) => [r.id],
};

/** Reads the quarantine, newest first. Only for keys that see every app (refusals may name no app). */
export class RejectedCallbackRepository {
  constructor(private readonly dataSource: DataSource) {}

  async list(args: PageArgs): Promise<Page<RejectedCallbackRecord>> {
    const params = new SqlParams();
    const plan = planPage(args, KEYSET, params);
    const rows: RejectedCallbackRecord[] = await this.dataSource.query(
      `SELECT r.id::text AS id, r.reason, r.error_code AS "errorCode", r.sdk_app_id AS "sdkAppId", r.query_string AS "queryString",
         r.raw_body AS "rawBody", r.body_bytes AS "bodyBytes", r.times, r.first_seen_at AS "firstSeenAt", r.last_seen_at AS "lastSeenAt"
       FROM rejected_callbacks r ${whereClause(plan.conditions)} ORDER BY ${plan.orderBy} LIMIT ${plan.limit}`,
      params.values,
    );
    return finishPage(rows, plan, KEYSET, args);
  }

  async count(): Promise<number> {
    const rows: { n: number }[] = await this.dataSource.query(`SELECT count(*)::int AS n FROM rejected_callbacks`);
    return rows[0].n;
  }
}
