import type { DataSource } from 'typeorm';
import { sha256Hex } from '../domain/canonical-json';
import { countRows, queryPage, type Keyset, type Page, type PageArgs } from '../db/pagination';
import { SqlParams, whereClause } from '../db/sql';

/** A refused callback kept whole, as the quarantine policy hands it over (already masked and bounded). */
export interface RejectedCallback {
  readonly reason: string;
  readonly errorCode: string;
  readonly sdkAppId: string | null;
  readonly queryString: string;
  /** The body as text: UTF-8 as sent, or base64 when PostgreSQL text cannot hold it (`bodyEncoding`). */
  readonly rawBody: string;
  readonly bodyEncoding: 'utf8' | 'base64';
  readonly bodyBytes: number;
  /** The address it came from. */
  readonly source: string | null;
  /** Whether its `token`/`Sign` were valid (they are masked here); null when not known. */
  readonly credentialsOk?: boolean | null;
}

/** What an operator's tool asks of the quarantine (`QuarantineRepository.find`). */
export interface QuarantineQuery {
  readonly id?: string;
  /** An error code (`UNKNOWN_APP`), or words of the reason. */
  readonly reason?: string;
  readonly afterId?: string;
  readonly order: 'ASC' | 'DESC';
  readonly limit: number;
}

/**
 * Most sources with their own count per day and refusal code; the others are counted together under
 * OTHER_SOURCE, so junk from any number of addresses (IPv6 gives one sender millions) stays bounded.
 */
export const MAX_COUNTED_SOURCES = 1000;
/** The source of the counts past MAX_COUNTED_SOURCES (sources are IP addresses: no address is spelt so). */
export const OTHER_SOURCE = 'other';
/** Serialises the flushes of all replicas, so each sees the sources already counted today. */
const COUNTS_LOCK = 0x72656a63; // "rejc"

/**
 * Adds a batch of counts to today's rows: a source already counted today, or one that fits under
 * MAX_COUNTED_SOURCES for its code (the larger counts first), keeps its own row; the rest go to OTHER_SOURCE.
 */
const ADD_COUNTS = `
  WITH x AS (
    SELECT x."errorCode" AS code, x.source, x.times, x.bytes,
           x.source = $3 OR EXISTS (SELECT 1 FROM rejected_callback_counts r WHERE r.day = current_date AND r.error_code = x."errorCode" AND r.source = x.source) AS known
    FROM jsonb_to_recordset($1::jsonb) AS x("errorCode" text, source text, times bigint, bytes bigint)
  ),
  counted AS (
    SELECT error_code, count(*) AS n FROM rejected_callback_counts WHERE day = current_date AND source <> $3 GROUP BY error_code
  ),
  placed AS (
    SELECT x.code, x.times, x.bytes,
           CASE WHEN x.known OR coalesce(c.n, 0) + row_number() OVER (PARTITION BY x.code, x.known ORDER BY x.times DESC, x.source) <= $2 THEN x.source ELSE $3 END AS source
    FROM x LEFT JOIN counted c ON c.error_code = x.code
  )
  INSERT INTO rejected_callback_counts (day, error_code, source, times, bytes, last_seen_at)
  SELECT current_date, code, source, sum(times)::bigint, sum(bytes)::bigint, now() FROM placed GROUP BY code, source
  ON CONFLICT ON CONSTRAINT pk_rejected_callback_counts DO UPDATE SET
    times = rejected_callback_counts.times + EXCLUDED.times, bytes = rejected_callback_counts.bytes + EXCLUDED.bytes,
    last_seen_at = EXCLUDED.last_seen_at`;

/** Refusals only counted: one row per day, code and source (at most MAX_COUNTED_SOURCES, then OTHER_SOURCE). */
export interface RefusalCount {
  readonly errorCode: string;
  readonly source: string;
  readonly times: number;
  readonly bytes: number;
}

/** A quarantined callback as served to operators. */
export interface RejectedCallbackRecord extends RejectedCallback {
  readonly id: string;
  readonly times: number;
  readonly firstSeenAt: Date;
  readonly lastSeenAt: Date;
}

/** The identity of a distinct refusal: its code, query string and body. */
const fingerprintOf = (r: Pick<RejectedCallback, 'errorCode' | 'queryString' | 'bodyEncoding' | 'rawBody'>): string =>
  sha256Hex(`${r.errorCode}\n${r.queryString}\n${r.bodyEncoding}\n${r.rawBody}`);

const COLUMNS = `r.id::text AS id, r.reason, r.error_code AS "errorCode", r.sdk_app_id AS "sdkAppId", r.query_string AS "queryString",
  r.raw_body AS "rawBody", r.body_encoding AS "bodyEncoding", r.body_bytes AS "bodyBytes", r.source, r.times,
  r.first_seen_at AS "firstSeenAt", r.last_seen_at AS "lastSeenAt", r.credentials_ok AS "credentialsOk"`;

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

  /**
   * Keeps a refusal; a repeat of the same one only counts up `times`. Its credentials count as valid
   * once any arrival had them valid (the rest of the request is the same).
   */
  async record(r: RejectedCallback): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO rejected_callbacks (fingerprint, reason, error_code, sdk_app_id, query_string, raw_body, body_encoding, body_bytes, source, credentials_ok)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT ON CONSTRAINT uq_rejected_callbacks_fingerprint
       DO UPDATE SET times = rejected_callbacks.times + 1, last_seen_at = now(), reason = EXCLUDED.reason,
         credentials_ok = greatest(rejected_callbacks.credentials_ok, EXCLUDED.credentials_ok)`,
      [fingerprintOf(r), r.reason, r.errorCode, r.sdkAppId, r.queryString, r.rawBody, r.bodyEncoding, r.bodyBytes, r.source, r.credentialsOk ?? null],
    );
  }

  /** Adds counted refusals to today's rows, in one statement, at most MAX_COUNTED_SOURCES sources per code. */
  async addCounts(counts: readonly RefusalCount[]): Promise<void> {
    if (counts.length === 0) return;
    await this.dataSource.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [COUNTS_LOCK]);
      await tx.query(ADD_COUNTS, [JSON.stringify(counts), MAX_COUNTED_SOURCES, OTHER_SOURCE]);
    });
  }

  /** Bytes the quarantine takes on disk (table, indexes, TOAST). */
  async sizeBytes(): Promise<number> {
    const rows: { n: string }[] = await this.dataSource.query(`SELECT pg_total_relation_size('rejected_callbacks')::text AS n`);
    return Number(rows[0].n);
  }

  /** What the quarantine holds: rows kept whole, refusals only counted, bytes on disk (for metrics). */
  async totals(): Promise<{ rows: number; counted: number; bytes: number }> {
    const rows: { rows: string; counted: string; bytes: string }[] = await this.dataSource.query(
      `SELECT (SELECT count(*) FROM rejected_callbacks)::text AS rows,
              (SELECT coalesce(sum(times), 0) FROM rejected_callback_counts)::text AS counted,
              pg_total_relation_size('rejected_callbacks')::text AS bytes`,
    );
    return { rows: Number(rows[0].rows), counted: Number(rows[0].counted), bytes: Number(rows[0].bytes) };
  }

  /** Deletes refusals last seen, and counts of days, older than `days`; returns the rows deleted. */
  async purgeOlderThan(days: number): Promise<number> {
    // Wrapped in a SELECT: the driver hands back DELETE results in another shape than rows.
    const rows: { n: number }[] = await this.dataSource.query(
      `WITH gone AS (DELETE FROM rejected_callbacks WHERE last_seen_at < now() - make_interval(days => $1) RETURNING 1),
            counts AS (DELETE FROM rejected_callback_counts WHERE day < current_date - $1::int RETURNING 1)
       SELECT (SELECT count(*) FROM gone)::int AS n, (SELECT count(*) FROM counts)::int AS c`,
      [days],
    );
    return rows[0].n;
  }

  /** Newest first. Only for keys that see every app (a refusal may name no app). */
  list(args: PageArgs): Promise<Page<RejectedCallbackRecord>> {
    return queryPage(this.dataSource, { columns: COLUMNS, source: 'rejected_callbacks r', conditions: [], params: new SqlParams() }, KEYSET, args);
  }

  /**
   * Refusals for operators' tools: one by `id`, or those whose code is `reason` or whose reason
   * contains it; after the id `afterId` in `order`; at most `limit`.
   */
  find(q: QuarantineQuery): Promise<RejectedCallbackRecord[]> {
    const params = new SqlParams();
    const conditions: string[] = [];
    if (q.id !== undefined) conditions.push(`r.id = ${params.add(q.id)}::bigint`);
    if (q.reason !== undefined) {
      const p = params.add(q.reason);
      conditions.push(`(r.error_code = upper(${p}) OR strpos(lower(r.reason), lower(${p})) > 0)`);
    }
    if (q.afterId !== undefined) conditions.push(`r.id ${q.order === 'ASC' ? '>' : '<'} ${params.add(q.afterId)}::bigint`);
    return this.dataSource.query(
      `SELECT ${COLUMNS} FROM rejected_callbacks r ${whereClause(conditions)} ORDER BY r.id ${q.order} LIMIT ${Math.trunc(q.limit)}`,
      params.values,
    );
  }

  /** Deletes a refusal (its callback is stored now); false when it was already gone. */
  async remove(id: string): Promise<boolean> {
    const rows: { id: string }[] = await this.dataSource.query(`WITH gone AS (DELETE FROM rejected_callbacks WHERE id = $1 RETURNING id) SELECT id::text AS id FROM gone`, [id]);
    return rows.length > 0;
  }

  /**
   * Gives a refusal its new code and reason (a replay refused it again, for another reason). When
   * another row already holds that refusal, this one is folded into it (its times added).
   */
  async refuseAgain(r: RejectedCallbackRecord, errorCode: string, reason: string): Promise<void> {
    const fingerprint = fingerprintOf({ ...r, errorCode });
    await this.dataSource.transaction(async (tx) => {
      const twins: { id: string }[] = await tx.query(`SELECT id::text AS id FROM rejected_callbacks WHERE fingerprint = $1 AND id <> $2 FOR UPDATE`, [fingerprint, r.id]);
      if (twins.length === 0) {
        await tx.query(`UPDATE rejected_callbacks SET fingerprint = $2, error_code = $3, reason = $4 WHERE id = $1`, [r.id, fingerprint, errorCode, reason]);
        return;
      }
      await tx.query(
        `UPDATE rejected_callbacks t SET times = t.times + s.times, reason = $3, first_seen_at = least(t.first_seen_at, s.first_seen_at),
           last_seen_at = greatest(t.last_seen_at, s.last_seen_at), credentials_ok = greatest(t.credentials_ok, s.credentials_ok)
         FROM rejected_callbacks s WHERE t.id = $1 AND s.id = $2`,
        [twins[0].id, r.id, reason],
      );
      await tx.query(`DELETE FROM rejected_callbacks WHERE id = $1`, [r.id]);
    });
  }

  count(): Promise<number> {
    return countRows(this.dataSource, { source: 'rejected_callbacks r', conditions: [], params: new SqlParams() });
  }
}
