import type { StatsRow } from './types';

/** One hour of today in the chart. */
export interface HourPoint {
  /** 0–23, local time. */
  readonly hour: number;
  readonly calls: number;
  readonly answered: number;
  /** answered / calls; null for an hour without calls. */
  readonly answerRate: number | null;
}

/** Midnight of `now`'s day in the browser's time zone. */
export function startOfDay(now: Date): Date {
  return new Date(now.getFullYear(), now.getMonth(), now.getDate());
}

/**
 * Today's 24 hours from `callStats(interval: HOUR)` rows (hours without calls have no row). Buckets
 * are placed by their local hour, so the hour repeated when clocks go back is summed into one.
 */
export function hourly(rows: readonly StatsRow[]): HourPoint[] {
  const calls = new Array<number>(24).fill(0);
  const answered = new Array<number>(24).fill(0);
  for (const row of rows) {
    const hour = new Date(row.bucket).getHours();
    calls[hour] += row.calls;
    answered[hour] += row.answered;
  }
  return calls.map((n, hour) => ({ hour, calls: n, answered: answered[hour], answerRate: n === 0 ? null : answered[hour] / n }));
}

/** "12 calls today, 75% answered" */
export function summary(points: readonly HourPoint[]): string {
  const calls = points.reduce((sum, p) => sum + p.calls, 0);
  const answered = points.reduce((sum, p) => sum + p.answered, 0);
  if (calls === 0) return 'No calls today yet.';
  return `${calls} ${calls === 1 ? 'call' : 'calls'} today, ${Math.round((100 * answered) / calls)}% answered.`;
}
