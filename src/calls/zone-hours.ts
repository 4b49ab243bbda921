import type { Queryable } from '../db/pagination';

/**
 * Checks, with PostgreSQL's own time zone data, whether every UTC hour of ZONE_CHECK_WINDOW (2001 to
 * 2060) keeps one offset that is a whole number of hours: then all of an hour's calls fall in the same
 * hour, day, week or month of that zone, and hourly sums can be bucketed by hour. Offsets are sampled
 * at each UTC midnight; on a day whose offset changes, each of its hours is checked at both ends.
 * (A zone whose offset changed and changed back within one day would pass unseen; tzdata has none
 * since 2001.)
 */
const WHOLE_HOURS = `
  WITH days AS (
    SELECT t, (t AT TIME ZONE $1) - (t AT TIME ZONE 'UTC') AS off
    FROM generate_series(timestamptz '2001-01-01 00:00:00+00', timestamptz '2061-01-01 00:00:00+00', interval '1 day') AS t
  ), changed AS (
    SELECT t FROM (SELECT t, off, lead(off) OVER (ORDER BY t) AS next FROM days) x WHERE next <> off
  ), hours AS (
    SELECT h, (h AT TIME ZONE $1) - (h AT TIME ZONE 'UTC') AS off,
      ((h + interval '59 minutes 59.999999 seconds') AT TIME ZONE $1) - ((h + interval '59 minutes 59.999999 seconds') AT TIME ZONE 'UTC') AS off_end
    FROM changed CROSS JOIN LATERAL generate_series(changed.t, changed.t + interval '23 hours', interval '1 hour') AS h
  )
  SELECT NOT EXISTS (SELECT 1 FROM days WHERE extract(epoch FROM off) % 3600 <> 0)
     AND NOT EXISTS (SELECT 1 FROM hours WHERE off <> off_end OR extract(epoch FROM off) % 3600 <> 0) AS whole`;

/** Per-process cache of {@link WHOLE_HOURS} by zone name (a few hundred names at most, each checked once). */
export class ZoneHours {
  private readonly known = new Map<string, Promise<boolean>>();

  constructor(private readonly db: Queryable) {}

  wholeHours(zone: string): Promise<boolean> {
    let answer = this.known.get(zone);
    if (answer === undefined) {
      answer = this.db.query(WHOLE_HOURS, [zone]).then((rows: { whole: boolean }[]) => rows[0].whole);
      this.known.set(zone, answer);
      answer.catch(() => this.known.delete(zone)); // asked again next time
    }
    return answer;
  }
}
