/**
 * How a `callStats` request is answered: which aggregates it needs, and whether (and over which whole
 * hours) the hourly rollup can answer it exactly (docs/architecture.md, Stats rollup). Pure.
 */
import type { CallFilter, TimeRange } from './filters';

export type StatsDimension = 'MEDIA_TYPE' | 'CALL_TYPE' | 'RESULT' | 'STATUS';
export type StatsInterval = 'HOUR' | 'DAY' | 'WEEK' | 'MONTH';

/** The aggregate fields of a stats row, as GraphQL names them. */
export const STATS_MEASURES = [
  'calls',
  'answered',
  'answerRate',
  'missed',
  'totalTalkSeconds',
  'avgTalkSeconds',
  'p50TalkSeconds',
  'p95TalkSeconds',
] as const;
export type StatsMeasure = (typeof STATS_MEASURES)[number];

/** What one `callStats` request asks for. */
export interface StatsRequest {
  readonly filter?: CallFilter | null;
  readonly groupBy: readonly StatsDimension[];
  readonly interval: StatsInterval | null;
  /** IANA zone of the buckets (only meaningful with an interval). */
  readonly timeZone: string;
  /** The aggregates to compute; the others are left out of the SQL. */
  readonly measures: readonly StatsMeasure[];
}

/** The measures a list of field names selects, in a stable order (unknown names are ignored). */
export function measuresOf(fields: Iterable<string>): StatsMeasure[] {
  const wanted = new Set(fields);
  return STATS_MEASURES.filter((m) => wanted.has(m));
}

const HOUR_MS = 3_600_000;

/**
 * The instants whose time zones are checked hour by hour (docs/architecture.md, Stats rollup): every
 * time ingest accepts lies in it (2001 to 2060). Calls outside it, if any, are read raw.
 */
export const ZONE_CHECK_WINDOW = Object.freeze({ from: new Date('2001-01-01T00:00:00Z'), to: new Date('2061-01-01T00:00:00Z') });

/** Whole hours `[from, to)` of start times the rollup answers; `null` at an end means unbounded. */
export interface RollupWindow {
  readonly from: Date | null;
  readonly to: Date | null;
}

/** Why a request must read raw calls whatever the time range, or `null` when the rollup may answer it. */
export function rawOnlyReason(request: StatsRequest): string | null {
  const f = request.filter ?? {};
  if (f.userId || f.role) return 'a user filter';
  if (f.callId || f.roomId) return 'a call or room filter';
  if (request.measures.includes('p50TalkSeconds') || request.measures.includes('p95TalkSeconds')) return 'a percentile';
  return null;
}

/**
 * The whole hours the rollup may answer, or `null` when none. `zoneHours` is where every hour keeps
 * one bucket in the request's time zone: `'all'` (UTC, or no interval), a window, or `null` (a zone
 * with an offset that is not a whole number of hours, or that changes within an hour).
 */
export function rollupWindow(range: TimeRange | null | undefined, zoneHours: 'all' | { readonly from: Date; readonly to: Date } | null): RollupWindow | null {
  if (zoneHours === null) return null;
  let from = range?.from ? ceilHour(range.from) : null;
  let to = range?.to ? floorHour(range.to) : null;
  if (zoneHours !== 'all') {
    from = from === null || from < zoneHours.from ? zoneHours.from : from;
    to = to === null || to > zoneHours.to ? zoneHours.to : to;
  }
  if (from !== null && to !== null && from >= to) return null;
  return { from, to };
}

export const floorHour = (d: Date): Date => new Date(Math.floor(d.getTime() / HOUR_MS) * HOUR_MS);
export const ceilHour = (d: Date): Date => new Date(Math.ceil(d.getTime() / HOUR_MS) * HOUR_MS);
