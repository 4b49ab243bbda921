import type { TimeRange } from '../domain/filters';
/** Collects bind parameters while a statement is assembled; `add` returns the placeholder. */
export class SqlParams {
  readonly values: unknown[] = [];

  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** `WHERE a AND b`, or nothing. */
export const whereClause = (conditions: readonly string[]): string =>
  conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;


/** Conditions for `column` in a time range. */
export function rangeConditions(column: string, range: TimeRange | null | undefined, params: SqlParams): string[] {
  const out: string[] = [];
  if (range?.from) out.push(`${column} >= ${params.add(range.from)}`);
  if (range?.to) out.push(`${column} < ${params.add(range.to)}`);
  return out;
}

/** `column = ANY(apps)` for a scope's list of apps; nothing when every app may be read. */
export function appCondition(column: string, apps: readonly string[] | null, params: SqlParams): string[] {
  if (apps === null) return [];
  // Equality for one app lets the planner walk (sdk_app_id, started_at) indexes in order.
  return apps.length === 1 ? [`${column} = ${params.add(apps[0])}`] : [`${column} = ANY(${params.add(apps)}::text[])`];
}
