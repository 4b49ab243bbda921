import { AppError } from '../domain/app-error';
import { decodeCursor, encodeCursor, isBigint } from '../domain/cursor';
import type { DataSource } from 'typeorm';
import { whereClause, type SqlParams } from './sql';
import { isoFromUtcText } from './timestamps';

/** Anything that runs SQL: a DataSource or a transaction's EntityManager. */
export type Queryable = Pick<DataSource, 'query'>;

/** Relay arguments. */
export interface PageArgs {
  readonly first?: number | null;
  readonly after?: string | null;
  readonly last?: number | null;
  readonly before?: string | null;
  /**
   * False when the caller needs no row of the page (a connection selecting only `totalCount`): the
   * arguments are still checked, and the page comes back empty without a query. Not a GraphQL argument.
   */
  readonly rows?: boolean;
}

/** One page of rows with their cursors. */
export interface Page<T> {
  readonly nodes: readonly T[];
  readonly cursors: readonly string[];
  readonly hasNextPage: boolean;
  readonly hasPreviousPage: boolean;
}

/** The keyset of a listing: columns compared as a row, all in one direction, ending with a unique one. */
export interface Keyset<Row> {
  readonly kind: string;
  readonly columns: readonly string[];
  readonly casts: readonly string[];
  readonly direction: 'ASC' | 'DESC';
  values(row: Row): string[];
  /**
   * SQL of the same texts as `values`, for a compiled read's cursors ({@link queryCompiledPage}); a
   * `timestamp` one is utcText's text of a timestamptz, made the API's text (or '' for null) in Node.
   */
  readonly texts?: readonly (readonly [sql: string, kind?: 'timestamp'])[];
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export interface PagePlan {
  readonly conditions: string[];
  readonly orderBy: string;
  readonly limit: number;
  readonly size: number;
  readonly backward: boolean;
}

function checkSize(field: string, value: number | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  if (!Number.isInteger(value) || value < 0 || value > MAX_PAGE_SIZE) {
    throw new AppError('BAD_USER_INPUT', `${field}: expected an integer from 0 to ${MAX_PAGE_SIZE}, got ${value}`, field);
  }
  return value;
}

/** A cursor value must fit the column it is compared with, or PostgreSQL would fail the query. */
function isValid(cast: string, value: string): boolean {
  if (cast === 'bigint') return isBigint(value);
  // Only what this API itself writes: toISOString() of a real date (JS accepts Feb 30, PostgreSQL does not),
  // in years 1 to 9999 (PostgreSQL reads neither a signed six-digit year nor year 0).
  if (cast === 'timestamptz') return /^\d{4}-/.test(value) && !Number.isNaN(Date.parse(value)) && new Date(value).toISOString() === value && !value.startsWith('0000');
  return !value.includes('\u0000');
}

/** Turns Relay arguments into keyset conditions, an order and a limit (one extra row tells if more exist). */
export function planPage<Row>(args: PageArgs, keyset: Keyset<Row>, params: SqlParams): PagePlan {
  const first = checkSize('first', args.first);
  const last = checkSize('last', args.last);
  if (first !== null && last !== null) throw new AppError('BAD_USER_INPUT', 'last: expected to be omitted when first is given, got both', 'last');
  const backward = last !== null || (first === null && args.before != null && args.after == null);
  const size = (backward ? last : first) ?? DEFAULT_PAGE_SIZE;
  const conditions: string[] = [];
  const row = `(${keyset.columns.join(', ')})`;
  const bound = (field: string, cursor: string) => {
    const values = decodeCursor(field, keyset.kind, keyset.columns.length, cursor);
    if (!values.every((v, i) => isValid(keyset.casts[i], v))) {
      throw new AppError('BAD_USER_INPUT', `${field}: expected a ${keyset.kind} cursor from this API, got one with values that do not fit`, field);
    }
    return `(${values.map((v, i) => `${params.add(v)}::${keyset.casts[i]}`).join(', ')})`;
  };
  const forwardOp = keyset.direction === 'DESC' ? '<' : '>';
  const backwardOp = keyset.direction === 'DESC' ? '>' : '<';
  if (args.after) conditions.push(`${row} ${forwardOp} ${bound('after', args.after)}`);
  if (args.before) conditions.push(`${row} ${backwardOp} ${bound('before', args.before)}`);
  const dir = backward ? (keyset.direction === 'DESC' ? 'ASC' : 'DESC') : keyset.direction;
  return { conditions, orderBy: keyset.columns.map((c) => `${c} ${dir}`).join(', '), limit: size + 1, size, backward };
}

/** Trims the extra row, restores the order of a backward page, and makes cursors. */
export function finishPage<Row>(rows: Row[], plan: PagePlan, keyset: Keyset<Row>, args: PageArgs): Page<Row> {
  const more = rows.length > plan.size;
  const kept = rows.slice(0, plan.size);
  if (plan.backward) kept.reverse();
  return {
    nodes: kept,
    cursors: kept.map((r) => encodeCursor(keyset.kind, keyset.values(r))),
    hasNextPage: plan.backward ? args.before != null : more,
    hasPreviousPage: plan.backward ? more : args.after != null,
  };
}

/** Where a listing reads from: `SELECT columns FROM source WHERE conditions`, its parameters collected in `params`. */
export interface ListingQuery {
  readonly columns: string;
  readonly source: string;
  readonly conditions: readonly string[];
  readonly params: SqlParams;
}

/** Reads one page of a listing in keyset order. */
export async function queryPage<Row>(db: Queryable, q: ListingQuery, keyset: Keyset<Row>, args: PageArgs): Promise<Page<Row>> {
  const plan = planPage(args, keyset, q.params);
  if (args.rows === false) return { nodes: [], cursors: [], hasNextPage: false, hasPreviousPage: false };
  // The limit is a parameter, so pages of any size share one statement (src/db/prepared.ts).
  const values = [...q.params.values, plan.limit];
  const rows: Row[] = await db.query(
    `SELECT ${q.columns} FROM ${q.source} ${whereClause([...q.conditions, ...plan.conditions])} ORDER BY ${plan.orderBy} LIMIT $${values.length}`,
    values,
  );
  return finishPage(rows, plan, keyset, args);
}

/** Counts the rows of a listing (its `totalCount`). */
export async function countRows(db: Queryable, q: Omit<ListingQuery, 'columns'>): Promise<number> {
  const rows: { n: number }[] = await db.query(`SELECT count(*)::int AS n FROM ${q.source} ${whereClause(q.conditions)}`, q.params.values);
  return rows[0].n;
}

/** A key of a connection a compiled read returns, in response order (src/graphql/compiled-reads.ts). */
export type RenderedConnectionEntry =
  | { readonly key: string; readonly kind: 'const'; readonly value: string }
  | { readonly key: string; readonly kind: 'edges'; readonly edge: readonly RenderedEdgeEntry[] }
  | { readonly key: string; readonly kind: 'pageInfo'; readonly info: readonly RenderedPageInfoEntry[] }
  | { readonly key: string; readonly kind: 'totalCount' };

export type RenderedEdgeEntry =
  | { readonly key: string; readonly kind: 'const'; readonly value: string }
  | { readonly key: string; readonly kind: 'cursor' | 'node' };

export type RenderedPageInfoEntry =
  | { readonly key: string; readonly kind: 'const'; readonly value: string }
  | { readonly key: string; readonly kind: 'hasNextPage' | 'hasPreviousPage' | 'startCursor' | 'endCursor' };

/** The SQL texts of a keyset's cursor values; only keysets of compiled reads have them. */
function keysetTexts<Row>(keyset: Keyset<Row>): readonly (readonly [sql: string, kind?: 'timestamp'])[] {
  if (!keyset.texts) throw new Error(`compiled page: the ${keyset.kind} keyset has no texts`);
  return keyset.texts;
}

/** What a compiled read selects of each row and how it builds the node (src/calls/records.ts, `Projection`). */
export interface NodeProjection {
  readonly columns: readonly string[];
  build(row: Readonly<Record<string, unknown>>): Record<string, unknown>;
}

/** The error of a compiled page's count (its `totalCount`), told apart from the page's own. */
export class CountFailure extends Error {
  constructor(override readonly cause: unknown) {
    super((cause as Error)?.message ?? String(cause));
  }
}

/**
 * One forward page of a listing as its connection object, keys in `shape`'s order: the statement
 * selects only the node's columns (`node`) and the keyset's texts, and the connection is built from
 * the rows without resolvers; `count` runs beside it when `totalCount` is selected (its error comes as a
 * {@link CountFailure}), and alone when nothing else needs a row. The same page, cursors and page info
 * as {@link queryPage} with {@link finishPage}; null for a backward page (`last`, or `before` alone),
 * which is read the usual way.
 */
export async function queryCompiledPage<Row>(
  db: Queryable,
  q: Omit<ListingQuery, 'columns'>,
  keyset: Keyset<Row>,
  args: PageArgs,
  node: NodeProjection,
  shape: readonly RenderedConnectionEntry[],
  count: () => Promise<number>,
): Promise<Record<string, unknown> | null> {
  const plan = planPage(args, keyset, q.params);
  if (plan.backward) return null;
  const wantsCursor = shape.some((e) => (e.kind === 'edges' && e.edge.some((x) => x.kind === 'cursor')) || (e.kind === 'pageInfo' && e.info.some((x) => x.kind === 'startCursor' || x.kind === 'endCursor')));
  const wantsNode = shape.some((e) => e.kind === 'edges' && e.edge.some((x) => x.kind === 'node'));
  const texts = keysetTexts(keyset);
  const columns = [...(wantsCursor ? texts.map(([t], i) => `${t} AS "k${i}"`) : []), ...(wantsNode ? node.columns : [])];
  const values = [...q.params.values, plan.limit];
  const needsRows = shape.some((e) => e.kind === 'edges' || e.kind === 'pageInfo');
  const counted = shape.some((e) => e.kind === 'totalCount')
    ? count().catch((err: unknown) => {
        throw new CountFailure(err);
      })
    : null;
  // Both settle before either error is thrown, so no statement is left running behind the answer.
  const [read, total] = await Promise.allSettled([
    needsRows
      ? db.query(
          `SELECT ${columns.length ? columns.join(', ') : '1 AS "one"'} FROM ${q.source} ${whereClause([...q.conditions, ...plan.conditions])} ORDER BY ${plan.orderBy} LIMIT $${values.length}`,
          values,
        )
      : Promise.resolve([]),
    counted,
  ]);
  if (read.status === 'rejected') throw read.reason;
  if (total.status === 'rejected') throw total.reason;
  const rows = read.value as Record<string, unknown>[];
  const more = rows.length > plan.size;
  const kept = more ? rows.slice(0, plan.size) : rows;
  const cursorValue = texts.map(([, kind], i) => (kind === 'timestamp' ? (r: Record<string, unknown>) => isoFromUtcText(r[`k${i}`] as string | null) ?? '' : (r: Record<string, unknown>) => r[`k${i}`] as string));
  const cursors = wantsCursor ? kept.map((r) => encodeCursor(keyset.kind, cursorValue.map((value) => value(r)))) : [];
  const out: Record<string, unknown> = {};
  for (const e of shape) {
    if (e.kind === 'const') out[e.key] = e.value;
    else if (e.kind === 'totalCount') out[e.key] = total.value;
    else if (e.kind === 'edges') {
      out[e.key] = kept.map((row, i) => {
        const edge: Record<string, unknown> = {};
        for (const x of e.edge) edge[x.key] = x.kind === 'const' ? x.value : x.kind === 'cursor' ? cursors[i] : node.build(row);
        return edge;
      });
    } else {
      const info: Record<string, unknown> = {};
      for (const x of e.info) {
        if (x.kind === 'const') info[x.key] = x.value;
        else if (x.kind === 'hasNextPage') info[x.key] = more;
        else if (x.kind === 'hasPreviousPage') info[x.key] = args.after != null;
        else if (x.kind === 'startCursor') info[x.key] = cursors[0] ?? null;
        else info[x.key] = cursors.at(-1) ?? null;
      }
      out[e.key] = info;
    }
  }
  return out;
}
