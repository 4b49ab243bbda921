import type { DataSource } from 'typeorm';
import { sha256Hex } from '../domain/canonical-json';
import { countRows, queryPage, type Keyset, type Page, type PageArgs } from '../db/pagination';
import { SqlParams } from '../db/sql';

/** A refused callback, as the ingest side hands it over. */
export interface RejectedCallback {
  readonly reason: string;
  readonly errorCode: string;
  readonly sdkAppId: string | null;
  readonly queryString: string;
  readonly rawBody: string;
  readonly bodyBytes: number;
}

/** A quarantined callback as served to operators. */
export interface RejectedCallbackRecord extends RejectedCallback {
  readonly id: string;
  readonly times: number;
  readonly firstSeenAt: Date;
  readonly lastSeenAt: Date;
}

/** Query parameters whose values are secrets: kept in quarantine as `***`. */
const SECRET_PARAMS = /([?&]?(?:token|sign)=)[^&]*/gi;

const COLUMNS = `r.id::text AS id, r.reason, r.error_code AS "errorCode", r.sdk_app_id AS "sdkAppId", r.query_string AS "queryString",
  r.raw_body AS "rawBody", r.body_bytes AS "bodyBytes", r.times, r.first_seen_at AS "firstSeenAt", r.last_seen_at AS "lastSeenAt"`;

const KEYSET: Keyset<RejectedCallbackRecord> = {
  kind: 'rejected',
  columns: ['r.id'],
  casts: ['bigint'],
  direction: 'DESC',
  values: (r) => [r.id],
};

/** The one door to `rejected_callbacks`: what ingest refused, once per distinct (code, query, body). */
export class QuarantineRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Keeps a refusal; a repeat of the same one only counts up `times`. */
  async record(rejected: RejectedCallback): Promise<void> {
    const queryString = rejected.queryString.replace(SECRET_PARAMS, '$1***');
    // PostgreSQL text cannot hold NUL; the byte count keeps the original size.
    const rawBody = rejected.rawBody.split('\u0000').join('\uFFFD');
    const fingerprint = sha256Hex(`${rejected.errorCode}\n${queryString}\n${rawBody}`);
    await this.dataSource.query(
      `INSERT INTO rejected_callbacks (fingerprint, reason, error_code, sdk_app_id, query_string, raw_body, body_bytes)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT ON CONSTRAINT uq_rejected_callbacks_fingerprint
       DO UPDATE SET times = rejected_callbacks.times + 1, last_seen_at = now(), reason = EXCLUDED.reason`,
      [fingerprint, rejected.reason, rejected.errorCode, rejected.sdkAppId, queryString, rawBody, rejected.bodyBytes],
    );
  }

  /** Newest first. Only for keys that see every app (a refusal may name no app). */
  list(args: PageArgs): Promise<Page<RejectedCallbackRecord>> {
    return queryPage(this.dataSource, { columns: COLUMNS, source: 'rejected_callbacks r', conditions: [], params: new SqlParams() }, KEYSET, args);
  }

  count(): Promise<number> {
    return countRows(this.dataSource, { source: 'rejected_callbacks r', conditions: [], params: new SqlParams() });
  }
}
