import type { DataSource } from 'typeorm';
import { sha256Hex } from '../domain/canonical-json';

/** A refused callback, as kept in `rejected_callbacks`. */
export interface RejectedCallback {
  readonly reason: string;
  readonly errorCode: string;
  readonly sdkAppId: string | null;
  readonly queryString: string;
  readonly rawBody: string;
  readonly bodyBytes: number;
}

/** Query parameters whose values are secrets: kept in quarantine as `***`. */
const SECRET_PARAMS = /([?&]?(?:token|sign)=)[^&]*/gi;

/** Keeps what we refused, once per distinct (code, query, body); repeats are counted. */
export class QuarantineRepository {
  constructor(private readonly dataSource: DataSource) {}

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
}
