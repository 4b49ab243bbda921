import { QuietClient } from './quiet-client';

/**
 * Query connections that send their parameterised statements as named (prepared) statements, so
 * PostgreSQL parses and plans a read's SQL once per connection instead of on every request
 * (docs/architecture.md, "Prepared statements"). pgbench on a user's history page: 1,451-2,209 tps
 * with unnamed statements, 2,736-2,852 prepared (docs/benchmarks.md).
 *
 * What is named, and what stays unnamed:
 * - only a query sent as text with at least one parameter (what the repositories send through
 *   TypeORM); a query given as a config object, or with no parameters (BEGIN, SET, LISTEN), is sent
 *   as it comes;
 * - not a statement whose columns come from `*`: a migration that adds a column changes its result,
 *   and PostgreSQL refuses to run a prepared statement whose result changed ("cached plan must not
 *   change result type") until the connection closes;
 * - at most `PREPARED_PER_CONNECTION` names per connection, then unnamed: narrowed selections make
 *   many texts, and each prepared statement holds memory in its backend for the connection's life;
 * - at most `NAMED_TEXTS` texts in the process, then unnamed.
 * A statement PostgreSQL still refuses for a changed result (a column's type altered under it) fails
 * once, and is sent unnamed on that connection from then on.
 *
 * Every run is still planned for its own parameters (`plan_cache_mode = force_custom_plan`, set when
 * the connection opens): what is saved is parsing and analysis, not planning. After five runs
 * PostgreSQL may otherwise keep a generic plan made for any parameters, and a listing's generic plan
 * can be far worse than its custom one: an app's ongoing calls (`status = ANY($2)`) would walk the
 * app's index of all its calls and filter, reading every call of the app to find the few ongoing.
 *
 * pg itself keeps a name from being parsed twice on one connection, also with `pipeline: true`
 * (a name sent but not yet answered counts as parsed).
 */
export const PREPARED_PER_CONNECTION = 64;
/** Texts given a name in this process; each is kept (as the key of `names`) for the process's life. */
export const NAMED_TEXTS = 1000;

/** A text's name, the same on every connection of the process. */
const names = new Map<string, string>();

/** `*` after SELECT, RETURNING, a comma or a table's alias: a result whose columns follow the table's. */
const STAR_COLUMNS = /(?:\bSELECT|\bRETURNING|,|\.)\s*\*/i;

/** SQLSTATE 0A000 (feature_not_supported) with this message: the result of a prepared statement changed. */
const CHANGED_RESULT = 'cached plan must not change result type';

/** The name of `text`, given on first use; `null` when the text must stay unnamed or the process has named enough. */
export function statementName(text: string): string | null {
  const known = names.get(text);
  if (known !== undefined) return known;
  if (names.size >= NAMED_TEXTS || STAR_COLUMNS.test(text)) return null;
  const name = `calltrail_${names.size.toString(36)}`;
  names.set(text, name);
  return name;
}

type QueryArgs = Parameters<QuietClient['query']>;

/** Sent once on every new connection, before anything else (see above). */
export const PLAN_EACH_RUN = 'SET plan_cache_mode = force_custom_plan';

export class PreparingClient extends QuietClient {
  /** Names this connection has used (parsed, or sent to be parsed). */
  private readonly prepared = new Set<string>();
  /** Names PostgreSQL refused for a changed result: their texts go unnamed on this connection. */
  private readonly refused = new Set<string>();

  /** Connects, then sets `PLAN_EACH_RUN`; a connection that cannot take it is closed and its error reported. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override connect(callback?: (...args: any[]) => void): any {
    const ready = (super.connect() as Promise<unknown>)
      .then(() => (super.query as (text: string) => Promise<unknown>)(PLAN_EACH_RUN))
      .then(
        () => this,
        (err: unknown) => {
          this.end().catch(() => undefined);
          throw err;
        },
      );
    if (!callback) return ready;
    ready.then(() => callback(null, this), callback);
    return undefined;
  }

  // Overloads of pg's query() are kept as they are; only (text, values[, callback]) is rewritten.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(...args: any[]): any {
    const [text, values] = args as [unknown, unknown];
    if (typeof text !== 'string' || !Array.isArray(values) || values.length === 0) return (super.query as (...a: QueryArgs) => unknown)(...(args as QueryArgs));
    const name = this.nameFor(text);
    if (name === null) return (super.query as (...a: QueryArgs) => unknown)(...(args as QueryArgs));
    const rest = args.slice(2);
    const watch = (err: unknown): void => {
      if (err && (err as { code?: string }).code === '0A000' && String((err as Error).message).includes(CHANGED_RESULT)) this.refused.add(name);
    };
    const callback = rest[0] as ((err: Error | null, result: unknown) => void) | undefined;
    if (typeof callback === 'function') {
      return (super.query as (...a: unknown[]) => unknown)({ name, text }, values, (err: Error | null, result: unknown) => {
        watch(err);
        callback(err, result);
      });
    }
    const pending = (super.query as (...a: unknown[]) => Promise<unknown>)({ name, text }, values);
    return pending.catch((err: unknown) => {
      watch(err);
      throw err;
    });
  }

  private nameFor(text: string): string | null {
    const name = statementName(text);
    if (name === null || this.refused.has(name)) return null;
    if (this.prepared.has(name)) return name;
    if (this.prepared.size >= PREPARED_PER_CONNECTION) return null;
    this.prepared.add(name);
    return name;
  }
}
