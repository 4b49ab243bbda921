import type { DataSource } from 'typeorm';

/** What the backfill asks of the database beyond ingest's own writes. */
export class RecordsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * The dedupe key of the first stored event (lowest position) of each of an app's calls. Positions
   * are taken in commit order (docs/design.md, principle 5), so this is what calltrail heard of the
   * call first, whatever ran concurrently. Calls with no event are absent.
   */
  async firstEventKeys(sdkAppId: string, callIds: readonly string[]): Promise<Map<string, string>> {
    if (callIds.length === 0) return new Map();
    const rows: { callId: string; dedupeKey: string }[] = await this.dataSource.query(
      `SELECT c.id AS "callId", e.dedupe_key AS "dedupeKey"
       FROM unnest($2::text[]) AS c(id)
       -- one index lookup per call (ix_call_events_call: app, call, position)
       CROSS JOIN LATERAL (SELECT dedupe_key FROM call_events WHERE sdk_app_id = $1 AND call_id = c.id ORDER BY position LIMIT 1) e`,
      [sdkAppId, callIds],
    );
    return new Map(rows.map((r) => [r.callId, r.dedupeKey]));
  }
}
