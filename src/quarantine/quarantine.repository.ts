import type { DataSource } from 'typeorm';
import { sha256Hex } from '../domain/canonical-json';
import { countRows, queryPage, type Keyset, type Page, type PageArgs } from '../db/pagination';
import { SqlParams } from '../db/sql';

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

const COLUMNS = `r.id::text AS id, r.reason, r.error_code AS "errorCode", r.sdk_app_id AS "sdkAppId", r.query_string AS "queryString",
  r.raw_body AS "rawBody", r.body_encoding AS "bodyEncoding", r.body_bytes AS "bodyBytes", r.source, r.times,
  r.first_seen_at AS "firstSeenAt", r.last_seen_at AS "lastSeenAt"`;

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
  async record(r: RejectedCallback): Promise<void> {
    const fingerprint = sha256Hex(`${r.errorCode}\n${r.queryString}\n${r.bodyEncoding}\n${r.rawBody}`);
    await this.dataSource.query(
      `INSERT INTO rejected_callbacks (fingerprint, reason, error_code, sdk_app_id, query_string, raw_body, body_encoding, body_bytes, source)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT ON CONSTRAINT uq_rejected_callbacks_fingerprint
       DO UPDATE SET times = rejected_callbacks.times + 1, last_seen_at = now(), reason = EXCLUDED.reason`,
      [fingerprint, r.reason, r.errorCode, r.sdkAppId, r.queryString, r.rawBody, r.bodyEncoding, r.bodyBytes, r.source],
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

  count(): Promise<number> {
    return countRows(this.dataSource, { source: 'rejected_callbacks r', conditions: [], params: new SqlParams() });
  }
}
