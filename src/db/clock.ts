import type { DataSource } from 'typeorm';

/**
 * How far PostgreSQL's clock is ahead of this server's, in seconds (negative: behind), from one read of
 * `clock_timestamp()` against the middle of its round trip. Ingest dates its checks with this server's
 * clock (RETENTION_DAYS, EVENT_AHEAD, signed URLs) while PostgreSQL dates what it stores: the two must agree.
 */
export async function clockOffsetSeconds(db: DataSource, now: () => number = Date.now): Promise<number> {
  const sent = now();
  const rows: { t: string }[] = await db.query(`SELECT extract(epoch FROM clock_timestamp())::float8 AS t`);
  const received = now();
  return Number(rows[0].t) - (sent + received) / 2000;
}
