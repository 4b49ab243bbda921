/** How much event time one partition of `call_events` covers (`EVENT_PARTITION`), aligned in UTC. */
export type PartitionInterval = 'month' | 'week' | 'day';

/** A half-open range of event times, in Unix seconds: `[from, to)`. */
export interface TimeRange {
  readonly from: number;
  readonly to: number;
}

const DAY = 86_400;
/** 1970-01-05, the first Monday after the epoch, in days. */
const FIRST_MONDAY = 4;

/** Start of the interval holding `t` (Unix seconds), in UTC: the 1st of the month, Monday (ISO week) or midnight. */
export function intervalStart(t: number, interval: PartitionInterval): number {
  const days = Math.floor(t / DAY);
  if (interval === 'day') return days * DAY;
  if (interval === 'week') return (Math.floor((days - FIRST_MONDAY) / 7) * 7 + FIRST_MONDAY) * DAY;
  const d = new Date(days * DAY * 1000);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000;
}

/** Start of the interval after the one starting at `start`. */
export function nextIntervalStart(start: number, interval: PartitionInterval): number {
  if (interval === 'day') return start + DAY;
  if (interval === 'week') return start + 7 * DAY;
  const d = new Date(start * 1000);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) / 1000;
}

/**
 * The parts of `wanted` no existing partition covers, so creating them never overlaps one (PostgreSQL
 * refuses overlapping partitions). Partitions made under another `EVENT_PARTITION` setting stay as they are:
 * a new range starts where an existing one ends and stops where the next one starts.
 */
export function uncovered(wanted: TimeRange, existing: readonly TimeRange[]): TimeRange[] {
  const out: TimeRange[] = [];
  let at = wanted.from;
  while (at < wanted.to) {
    const covering = existing.find((e) => e.from <= at && at < e.to);
    if (covering) {
      at = covering.to;
      continue;
    }
    const next = Math.min(wanted.to, ...existing.filter((e) => e.from > at).map((e) => e.from));
    out.push({ from: at, to: next });
    at = next;
  }
  return out;
}

/**
 * The partitions to create so that every event time from the start of the current interval through
 * `ahead` intervals after it, and every interval in `alsoStarts` (those with rows waiting in the default
 * partition), has a partition of its own; in time order, none overlapping `existing` or each other.
 */
export function rangesToCreate(existing: readonly TimeRange[], nowSeconds: number, interval: PartitionInterval, ahead: number, alsoStarts: readonly number[] = []): TimeRange[] {
  const starts = new Set(alsoStarts.map((s) => intervalStart(s, interval)));
  let start = intervalStart(nowSeconds, interval);
  for (let i = 0; i <= ahead; i++) {
    starts.add(start);
    start = nextIntervalStart(start, interval);
  }
  const taken = [...existing];
  const out: TimeRange[] = [];
  for (const from of [...starts].sort((a, b) => a - b)) {
    for (const range of uncovered({ from, to: nextIntervalStart(from, interval) }, taken)) {
      out.push(range);
      taken.push(range);
    }
  }
  return out;
}

/** The table name of the partition starting at `from`: `call_events_pYYYYMMDD` in UTC, with `_HHMMSS` when it does not start at midnight. */
export function partitionName(from: number): string {
  const iso = new Date(from * 1000).toISOString();
  const time = from % DAY === 0 ? '' : `_${iso.slice(11, 19).replace(/:/g, '')}`;
  return `call_events_p${iso.slice(0, 10).replace(/-/g, '')}${time}`;
}

/** How far after the server's clock an event may be dated while retention is on: clock skew, not data. */
export const MAX_EVENT_AHEAD_SECONDS = DAY;

/** The event times ingest takes now, in Unix seconds: both ends included. */
export interface EventWindow {
  readonly earliest: number;
  readonly latest: number;
}

/**
 * The retention horizon: events with an earlier time are dropped, and callbacks dated before it refused
 * (their partition may be gone, and with it what would tell a redelivery from a new callback). Null when
 * retention is off.
 */
export function eventHorizon(retentionDays: number | null, nowSeconds: number): number | null {
  return retentionDays === null ? null : nowSeconds - retentionDays * DAY;
}

/**
 * The event times ingest takes while retention is on (`RETENTION_DAYS`); null when it is off: from the
 * horizon to a day after now. A callback dated further ahead is refused since it would hold back
 * retention until its own time passed the horizon: every event stored after it is kept while it is
 * (docs/reliability.md, Retention).
 */
export function eventWindow(retentionDays: number | null, nowSeconds: number): EventWindow | null {
  const earliest = eventHorizon(retentionDays, nowSeconds);
  return earliest === null ? null : { earliest, latest: nowSeconds + MAX_EVENT_AHEAD_SECONDS };
}
