import { DataSource, type DataSourceOptions, type ObjectLiteral, type QueryRunner } from 'typeorm';
import { AppError } from '../domain/app-error';

/** What `/readyz` and `/metrics` say of the read replica. */
export interface ReplicaStatus {
  /** Whether the replica answered the status statement just now. */
  readonly reachable: boolean;
  /** `pg_is_in_recovery()`: true for a streaming (physical) replica; null when unreachable. */
  readonly inRecovery: boolean | null;
  /** `pg_is_wal_replay_paused()`; null when not in recovery or unreachable. */
  readonly replayPaused: boolean | null;
  /**
   * How far the replica's data is behind the primary, in seconds: 0 when it has replayed all the WAL it
   * received, else the age of the last transaction it replayed (an upper bound). Null when unknown:
   * unreachable, not in recovery, or nothing replayed since it started.
   */
  readonly lagSeconds: number | null;
  /** Where queries go now: the replica, the primary (failover), or nowhere (failover off: they fail). */
  readonly readsOn: 'replica' | 'primary' | 'none';
  /** Why the replica is unreachable (absent when it is reachable). */
  readonly error?: string;
}

/** How the replica is read. */
export interface ReplicaOptions {
  /** The primary's query pool, read while the replica cannot be reached; null: queries fail `UNAVAILABLE` meanwhile. */
  readonly failover: DataSource | null;
  /** Once the replica failed, how long queries go straight to the primary before one tries it again, in ms. */
  readonly retryMs?: number;
  /** Longest wait of the status statement, in ms (a replica that does not answer in time counts as unreachable). */
  readonly statusTimeoutMs?: number;
  readonly now?: () => number;
}

/** Errors of the connection, not of the statement: the pooled socket could not be opened or was lost. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);
/** pg's own words for a connection that could not be made in time or was cut. */
const NETWORK_MESSAGE = /timeout exceeded when trying to connect|Connection terminated|connection error|Client was closed/i;

/**
 * SQLSTATEs of a server that will not take or keep a connection: class 08 (connection exception), class
 * 28 (authorization), 3D000 (no such database), 53300 (too many connections), 57P01–57P03 (shutting
 * down, crashed, or not accepting connections yet, as a standby before it is consistent).
 */
const CONNECTION_STATES = /^(08|28)|^(3D000|53300|57P01|57P02|57P03)$/;

/**
 * True when `err` says the replica could not be reached, or would not take a connection, rather than
 * that a statement failed: a network error or one of CONNECTION_STATES.
 */
export function isUnreachable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 3; e = (e as { driverError?: unknown }).driverError, depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || CONNECTION_STATES.test(code))) return true;
    if (typeof message === 'string' && NETWORK_MESSAGE.test(message)) return true;
  }
  return false;
}

/** Rejects a status check that took longer than `statusTimeoutMs`. */
const LATE = new Error('late');

const STATUS_SQL = `
  SELECT pg_is_in_recovery() AS "inRecovery",
         CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END AS "replayPaused",
         CASE WHEN NOT pg_is_in_recovery() THEN NULL
              WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
              ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END AS "lagSeconds"`;

/**
 * The read side's DataSource when `DATABASE_READ_URL` is set (docs/scaling.md, "Read replicas"): the
 * replica's own pool, never migrated. Only `query()` is routed: while the replica cannot be reached
 * (it was down at start-up, or a statement failed for the connection), each query is answered from
 * the primary's query pool (`failover`), and the replica is tried again at most every `retryMs` (or at
 * once by a status check). A statement that fails for any other reason fails as it would on the primary.
 * The read repositories only ever call `query()`; nothing writes through this.
 */
export class ReplicaDataSource extends DataSource {
  private readonly failover: DataSource | null;
  private readonly retryMs: number;
  private readonly statusTimeoutMs: number;
  private readonly now: () => number;
  /** Null while the replica answers; else why it stopped. */
  private down: { error: string; triedAt: number } | null = null;
  private opening: Promise<void> | null = null;
  private closed = false;
  private failovers = 0;
  private listener: (reachable: boolean, error: string | null) => void = () => undefined;

  constructor(options: DataSourceOptions, replica: ReplicaOptions) {
    super(options);
    this.failover = replica.failover;
    this.retryMs = replica.retryMs ?? 5000;
    this.statusTimeoutMs = replica.statusTimeoutMs ?? 1000;
    this.now = replica.now ?? Date.now;
  }

  /** Statements answered by the primary because the replica could not be reached, since start. */
  get failoverCount(): number {
    return this.failovers;
  }

  /** Why the replica is unreachable, or null while it answers. */
  get unreachable(): string | null {
    return this.down?.error ?? null;
  }

  /** Called when the replica stops answering (with why) and when it answers again (error null). */
  onChange(listener: (reachable: boolean, error: string | null) => void): void {
    this.listener = listener;
  }

  /** Opens the pool if it is not open; false (with the reason kept) when the replica cannot be reached. Never throws. */
  async open(): Promise<boolean> {
    try {
      await this.ensureOpen();
      this.markUp();
      return true;
    } catch (err) {
      this.markDown(err);
      return false;
    }
  }

  /** The replica, or the primary while the replica cannot be reached (see the class). */
  override async query<T = unknown>(query: string, parameters?: unknown[] | ObjectLiteral, queryRunner?: QueryRunner): Promise<T> {
    if (queryRunner) return super.query<T>(query, parameters, queryRunner);
    if (this.failover && this.down && this.now() - this.down.triedAt < this.retryMs) return this.onPrimary<T>(query, parameters);
    try {
      await this.ensureOpen();
    } catch (err) {
      return this.instead<T>(err, query, parameters); // whatever stops the pool opening
    }
    try {
      const rows = await super.query<T>(query, parameters);
      this.markUp();
      return rows;
    } catch (err) {
      if (!isUnreachable(err)) throw err;
      return this.instead<T>(err, query, parameters);
    }
  }

  /** Asks the replica (never the primary) whether it is in recovery and how far behind it is; the answer also sets where queries go. */
  async status(): Promise<ReplicaStatus> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(LATE), this.statusTimeoutMs)));
    let opened = false;
    const ask = async () => {
      await this.ensureOpen();
      opened = true;
      return super.query<{ inRecovery: boolean; replayPaused: boolean | null; lagSeconds: number | null }[]>(STATUS_SQL);
    };
    try {
      const rows = await Promise.race([ask(), late]);
      this.markUp();
      return { reachable: true, ...rows[0], readsOn: 'replica' };
    } catch (err) {
      // A slow answer is reported, but only a failed connection moves the queries.
      if (isUnreachable(err) || (!opened && err !== LATE)) this.markDown(err);
      const error = err === LATE ? `no answer within ${this.statusTimeoutMs} ms` : messageOf(err);
      return { reachable: false, inRecovery: null, replayPaused: null, lagSeconds: null, readsOn: this.down === null ? 'replica' : this.failover ? 'primary' : 'none', error };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the pool (waiting for an opening under way); later queries fail. */
  async close(): Promise<void> {
    this.closed = true;
    await this.opening?.catch(() => undefined);
    if (this.isInitialized) await this.destroy();
  }

  private ensureOpen(): Promise<void> {
    if (this.isInitialized) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error('read replica: expected an open pool, got a closed one'));
    this.opening ??= this.initialize().then(
      () => void (this.opening = null),
      (err: unknown) => {
        this.opening = null;
        throw err;
      },
    );
    return this.opening;
  }

  /** The replica failed for its connection (`err`): the primary answers, or (failover off) UNAVAILABLE. */
  private instead<T>(err: unknown, query: string, parameters: unknown[] | ObjectLiteral | undefined): Promise<T> {
    this.markDown(err);
    if (!this.failover) throw new AppError('UNAVAILABLE', `read replica: expected DATABASE_READ_URL to answer, got ${messageOf(err)}; retry later`);
    return this.onPrimary<T>(query, parameters);
  }

  private onPrimary<T>(query: string, parameters: unknown[] | ObjectLiteral | undefined): Promise<T> {
    this.failovers++;
    return this.failover!.query<T>(query, parameters);
  }

  private markUp(): void {
    if (this.down === null) return;
    this.down = null;
    this.listener(true, null);
  }

  private markDown(err: unknown): void {
    const first = this.down === null;
    this.down = { error: messageOf(err), triedAt: this.now() };
    if (first) this.listener(false, this.down.error);
  }
}

function messageOf(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown; errors?: { message?: unknown }[] };
  // Node reports a refused connection to a name with several addresses as an AggregateError with no message of its own.
  const message = typeof e?.message === 'string' && e.message !== '' ? e.message : Array.isArray(e?.errors) ? String(e.errors[0]?.message ?? '') : String(err);
  return message !== '' ? message : typeof e?.code === 'string' ? e.code : 'an unknown error';
}
