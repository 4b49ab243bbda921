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

/**
 * A timestamptz as the text the API serves (`Date.toISOString()` of the value pg's parser gives):
 * UTC, milliseconds, digits beyond them dropped; null stays null.
 */
export const isoText = (sql: string): string => `to_char((${sql}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * A timestamptz as PostgreSQL's own text of its UTC time (`2024-01-08 06:32:46.123456`, DateStyle
 * ISO), for `isoFromUtcText` (src/db/timestamps.ts) to turn into the API's text: the columns of a
 * compiled read, where {@link isoText} would cost PostgreSQL three times as much.
 */
export const utcText = (sql: string): string => `((${sql}) AT TIME ZONE 'UTC')::text`;

/** Response keys and type names go into the SQL text as literals: only GraphQL names are taken. */
const NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;
export function nameLiteral(name: string): string {
  if (!NAME.test(name)) throw new Error(`rendered key: expected a GraphQL name, got "${name}"`);
  return `'${name}'`;
}

/** Keys of one rendered object at most: `json_build_object` takes 100 arguments (a larger selection is read the usual way). */
export const MAX_RENDERED_KEYS = 50;

/** `json_build_object` of `entries` (key, SQL value), keys in the order given. */
export function jsonObject(entries: readonly (readonly [key: string, sql: string])[]): string {
  if (entries.length > MAX_RENDERED_KEYS) throw new Error(`rendered object: expected at most ${MAX_RENDERED_KEYS} keys, got ${entries.length}`);
  return `json_build_object(${entries.map(([key, sql]) => `${nameLiteral(key)}, ${sql}`).join(', ')})`;
}

/**
 * SQL of a cursor, the same text as `encodeCursor(kind, values)` (src/domain/cursor.ts) of the texts
 * `texts` compute: base64url of the JSON array of the kind and the values (`to_json` escapes a string
 * as `JSON.stringify` does; `encode` breaks base64 into lines of 76, which go, with the padding).
 */
export function cursorText(kind: string, texts: readonly string[]): string {
  nameLiteral(kind);
  const json = [`'[${JSON.stringify(kind)}'`, ...texts.map((t) => `',' || to_json((${t})::text)::text`), `']'`].join(' || ');
  // replace() is about twice as fast as translate() here (docs/benchmarks.md); the padding ends the text, after the last line.
  return `replace(replace(replace(rtrim(encode(convert_to(${json}, 'UTF8'), 'base64'), '='), E'\\n', ''), '+', '-'), '/', '_')`;
}
