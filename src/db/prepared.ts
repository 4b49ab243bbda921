import { QuietClient } from './quiet-client';

/**
 * Query connections that send their parameterised statements as named (prepared) statements, so
 * PostgreSQL parses and analyses a read's SQL once per connection instead of on every request
 * (docs/architecture.md, "Prepared statements"; figures in docs/benchmarks.md).
 *
 * Every run is still planned for its own parameters (`plan_cache_mode = force_custom_plan`, set when
 * the connection opens): what is saved is parsing and analysis, not planning. After five runs
 * PostgreSQL may otherwise keep a generic plan made for any parameters, and a listing's generic plan
 * can be far worse than its custom one: an app's ongoing calls (`status = ANY($2)`) would walk the
 * app's index of all its calls and filter, reading every call of the app to find the few ongoing.
 *
 * What is named, and what stays unnamed:
 * - only a query sent as text with at least one parameter (what the repositories send through
 *   TypeORM), every parameter a plain value (text, number, boolean, Date, Buffer, or arrays of them:
 *   a value pg fails to serialise would leave a named statement closed under pg's feet); a query
 *   given as a config object, or with no parameters (BEGIN, SET, LISTEN), is sent as it comes;
 * - not a statement whose columns come from `*`: a migration that adds a column changes its result,
 *   and PostgreSQL refuses to run a prepared statement whose result changed ("cached plan must not
 *   change result type");
 * - not a statement PostgreSQL refused once with an error of analysis (SQLSTATE class 42, such as an
 *   operator that no longer exists after a column's type changed, or 0A000 for a changed result):
 *   the statement kept on a connection would fail the same way on every run, an unnamed one is
 *   analysed afresh. That one request fails; the text goes unnamed on every connection from then on.
 * - Each connection keeps at most `PREPARED_PER_CONNECTION` statements, the least recently used
 *   deallocated first; the process names at most `NAMED_TEXTS` texts, the least recently used
 *   forgotten first. Narrowed selections make many texts, and a client that asks for many shapes
 *   only churns these, never grows them. A statement is deallocated only between transactions (the
 *   last ReadyForQuery said idle) and never while its parse is in flight (pg would record it as
 *   parsed when the answer comes); when no statement can go, the new text is sent unnamed.
 *
 * A statement's parse sees the session's settings of that moment: a text with a time zone-less
 * timestamptz literal or `'now'` would keep them. calltrail's texts carry `+00` on their literals and
 * query connections keep the server's settings but DateStyle, set once when they open (quiet-client.ts).
 *
 * pg itself keeps a name from being parsed twice on one connection, also with `pipeline: true`
 * (a name sent but not yet answered counts as parsed).
 */
export const PREPARED_PER_CONNECTION = 64;
/** Texts with a name in this process. */
export const NAMED_TEXTS = 1000;

/** Sent once on every new connection, before anything else (see above). */
export const PLAN_EACH_RUN = 'SET plan_cache_mode = force_custom_plan';

/** A text's name, the same on every connection of the process; least recently used first. */
const names = new Map<string, string>();
/** Texts PostgreSQL refused prepared: sent unnamed from then on. */
const refused = new Set<string>();
/** Names are never reused: a connection may still hold a forgotten text's statement. */
let nextName = 0;

/** `*` after SELECT, DISTINCT, ALL, RETURNING, a comma or a table's alias: a result whose columns follow the table's. */
const STAR_COLUMNS = /(?:\bSELECT|\bDISTINCT|\bALL|\bRETURNING|,|\.)\s*\*/i;

/** The name of `text`, given on first use; `null` when the text stays unnamed. */
export function statementName(text: string): string | null {
  const known = names.get(text);
  if (known !== undefined) {
    names.delete(text);
    names.set(text, known);
    return known;
  }
  if (refused.has(text) || STAR_COLUMNS.test(text)) return null;
  if (names.size >= NAMED_TEXTS) names.delete(names.keys().next().value!);
  const name = `calltrail_${(nextName++).toString(36)}`;
  names.set(text, name);
  return name;
}

/** True when PostgreSQL refused a statement at its analysis: the same text prepared would keep failing. */
function refusedAtAnalysis(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  // 42P05 (a name already prepared) is bookkeeping, not the text's analysis.
  return typeof code === 'string' && code.length === 5 && code !== '42P05' && (code.startsWith('42') || code === '0A000');
}

/** A value pg serialises without calling user code: the only kind a named statement is given. */
function plain(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'undefined':
      return true;
    case 'object':
      return value === null || value instanceof Date || Buffer.isBuffer(value) || (Array.isArray(value) && value.every(plain));
    default:
      return false;
  }
}

/** What pg keeps of a connection's named statements (pg/lib/connection.js). */
interface PgStatements {
  parsedStatements: Record<string, string | undefined>;
  submittedNamedStatements: Record<string, string | undefined>;
}

type QueryArgs = Parameters<QuietClient['query']>;

export class PreparingClient extends QuietClient {
  /** Names this connection holds (parsed, or sent to be parsed) with their texts, least recently used first. */
  private readonly prepared = new Map<string, string>();
  /** Whether the last ReadyForQuery said the session is outside any transaction. */
  private idle = false;
  /** Names whose DEALLOCATE is sent and not yet answered. */
  private readonly deallocating = new Set<string>();

  constructor(config?: ConstructorParameters<typeof QuietClient>[0]) {
    super(config);
    const connection = (this as unknown as { connection: NodeJS.EventEmitter }).connection;
    connection.on('readyForQuery', (msg: { status?: string }) => {
      this.idle = msg.status === 'I';
    });
  }

  /** A new connection also gets `PLAN_EACH_RUN`, in the same message. */
  protected override setup(): string {
    return `${super.setup()}; ${PLAN_EACH_RUN}`;
  }

  // Overloads of pg's query() are kept as they are; only (text, values[, callback]) is rewritten.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(...args: any[]): any {
    const [text, values] = args as [unknown, unknown];
    const send = super.query as (...a: unknown[]) => unknown;
    if (typeof text !== 'string' || !Array.isArray(values) || values.length === 0 || !values.every(plain)) return send.apply(this, args as QueryArgs);
    const name = this.nameFor(text);
    if (name === null) return send.apply(this, args as QueryArgs);
    const callback = args[2] as ((err: Error | null, result: unknown) => void) | undefined;
    if (typeof callback === 'function') {
      return send.call(this, { name, text }, values, (err: Error | null, result: unknown) => {
        if (err) this.failed(name, text, err);
        callback(err, result);
      });
    }
    return (send.call(this, { name, text }, values) as Promise<unknown>).catch((err: unknown) => {
      this.failed(name, text, err);
      throw err;
    });
  }

  /**
   * The name to send `text` under on this connection, making room for it; `null` to send it unnamed:
   * while its parse is in flight (should that parse fail, a second use sent without one would fail
   * too), while its DEALLOCATE is, or when no room can be made.
   */
  private nameFor(text: string): string | null {
    const name = statementName(text);
    if (name === null || this.deallocating.has(name)) return null;
    if (this.prepared.delete(name)) {
      this.prepared.set(name, text);
      return this.pg.submittedNamedStatements[name] === undefined ? name : null;
    }
    while (this.prepared.size >= PREPARED_PER_CONNECTION) if (!this.evictOne()) return null;
    this.prepared.set(name, text);
    return name;
  }

  /** After a named query failed: what PostgreSQL refused at analysis goes unnamed everywhere; a name the server lacks is parsed again. */
  private failed(name: string, text: string, err: unknown): void {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === '26000') {
      delete this.pg.parsedStatements[name];
      this.prepared.delete(name);
    } else if (refusedAtAnalysis(err)) {
      refused.add(text);
      names.delete(text);
    }
  }

  /**
   * Deallocates the least recently used statement that can go: outside a transaction only, and not one
   * whose parse is in flight. DEALLOCATE goes out after every query already sent or queued (in order,
   * pipelined or not); until it is answered, the text goes unnamed on this connection and pg keeps its
   * record of the statement. Answered, pg forgets it, so a later use parses it again; refused (a
   * transaction begun by a query pipelined ahead of it has failed), the statement is still there and
   * back in the list. Returns false when nothing could go.
   */
  private evictOne(): boolean {
    if (!this.idle) return false;
    const pg = this.pg;
    for (const [name, text] of this.prepared) {
      if (pg.submittedNamedStatements[name] !== undefined) continue;
      this.prepared.delete(name);
      if (pg.parsedStatements[name] === undefined) return true; // its parse failed: nothing on the server
      this.deallocating.add(name);
      (super.query as (text: string) => Promise<unknown>)(`DEALLOCATE ${name}`).then(
        () => {
          this.deallocating.delete(name);
          delete pg.parsedStatements[name];
        },
        () => {
          this.deallocating.delete(name);
          this.prepared.set(name, text);
        },
      );
      return true;
    }
    return false;
  }

  /** pg's record of this connection's named statements. */
  private get pg(): PgStatements {
    return (this as unknown as { connection: PgStatements }).connection;
  }
}
