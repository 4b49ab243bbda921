import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { PoolStats } from '../db/pool-stats';
import type { PartitionInterval } from '../domain/partition-ranges';
import type { EventStore } from './batch-writer';
import type { FoldCacheSize } from './fold-cache';
import { CallTooLargeError, type WriteResult } from './ingest.repository';
import type { CallbackEvent } from './trtc-v1.schema';

/** What the ingest thread needs: where to write, and how. */
export interface IngestThreadOptions {
  /** The primary's URL (the thread opens a pool of its own there). */
  readonly url: string;
  /** Connections of the thread's pool (`DB_INGEST_POOL_SIZE`). */
  readonly poolSize: number;
  /** `CALL_MAX_EVENTS`: past it a batch is refused with {@link CallTooLargeError}. */
  readonly callMaxEvents: number;
  readonly eventPartition: PartitionInterval;
  /** A batch not answered within this many ms ends the thread (default {@link BATCH_TIMEOUT_MS}). */
  readonly batchTimeoutMs?: number;
  /** The worker's file; by default `ingest-thread.worker` beside this one (tests point it elsewhere). */
  readonly entry?: string;
}

/** Past the ingest pool's 15 s statement timeout, with a margin: only a connection that hangs takes this long. */
export const BATCH_TIMEOUT_MS = 30_000;
/** Time between starts of a thread that failed to load. */
export const RESTART_PAUSE_MS = 1000;

/** A request to the thread: one batch. */
export interface WriteRequest {
  readonly id: number;
  readonly events: readonly CallbackEvent[];
}

/** An error as it crosses the thread boundary: what the batch writer decides on (data error or not, too-large calls). */
export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly calls?: CallTooLargeError['calls'];
  readonly max?: number;
}

/** What the thread sends back: a batch's results or its error, with its pool's and fold cache's state; that state (every second); or a line to log. */
export type ThreadMessage =
  | { readonly kind: 'reply'; readonly id: number; readonly results?: WriteResult[]; readonly error?: WireError; readonly pool: PoolStats; readonly foldCache: FoldCacheSize }
  | { readonly kind: 'pool'; readonly pool: PoolStats; readonly foldCache: FoldCacheSize }
  | { readonly kind: 'ready' }
  | { readonly kind: 'log'; readonly message: string; readonly error: WireError };

const NO_FOLD_CACHE: FoldCacheSize = { calls: 0, events: 0 };

/** How often the thread reports its pool while it has no batch to answer. */
export const POOL_REPORT_MS = 1000;

/** An error as sent across the boundary (see {@link WireError}). */
export function toWire(err: unknown): WireError {
  const e = (err ?? {}) as Partial<CallTooLargeError> & { code?: unknown; message?: unknown; name?: unknown };
  return {
    name: typeof e.name === 'string' ? e.name : 'Error',
    message: typeof e.message === 'string' ? e.message : String(err),
    ...(e.code !== undefined && { code: String(e.code) }),
    ...(err instanceof CallTooLargeError && { calls: err.calls.map((c) => ({ sdkAppId: c.sdkAppId, callId: c.callId })), max: err.max }),
  };
}

/** The error again on this side: a {@link CallTooLargeError}, or an Error keeping PostgreSQL's SQLSTATE in `code`. */
export function fromWire(wire: WireError): Error {
  if (wire.name === 'CallTooLargeError' && wire.calls && wire.max !== undefined) return new CallTooLargeError(wire.calls, wire.max);
  return Object.assign(new Error(wire.message), { name: wire.name, ...(wire.code !== undefined && { code: wire.code }) });
}

/** The worker's entry: compiled JavaScript in production, TypeScript (through tsx) in tests and `npm run dev`. */
function spawn(options: IngestThreadOptions): Worker {
  const file = options.entry ?? join(__dirname, `ingest-thread.worker${extname(__filename)}`);
  if (extname(file) !== '.ts') return new Worker(file, { workerData: options });
  const code = `require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(file)});`;
  return new Worker(code, { eval: true, workerData: options });
}

/**
 * Ingest's transactions on a thread of their own (docs/design.md, principle 10): each of a batch's
 * round trips to PostgreSQL is answered on that thread's event loop, which nothing else uses, instead
 * of waiting behind HTTP, GraphQL and the live fan-out on the main one. The batch writer (group commit,
 * deadlines, the outage spool) stays on the main thread and sees an {@link EventStore}; a batch costs
 * the main thread two messages.
 *
 * A thread that dies fails the batches it had (the writer spools them, as for a lost connection; a
 * batch it had committed is then stored once, as a redelivery) and the next batch starts a new one.
 */
export class IngestThread implements EventStore {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(results: WriteResult[]): void; reject(err: Error): void }>();
  private pool: PoolStats;
  private foldCache: FoldCacheSize = NO_FOLD_CACHE;
  private closed = false;
  /** When the current (or last) thread was started, and whether the last one ended before it had loaded. */
  private startedAt = 0;
  private failedLoad = false;
  private lastError: Error | null = null;
  /** Resolves once the current thread has loaded. */
  private loaded: Promise<void> = Promise.resolve();

  constructor(
    private readonly options: IngestThreadOptions,
    private readonly onLog: (message: string, err: Error) => void = () => undefined,
  ) {
    this.pool = this.noPool();
  }

  /** The thread's pool as it last reported it (at most POOL_REPORT_MS old while the thread runs), for metrics. */
  poolStats(): PoolStats {
    return this.pool;
  }

  /** The thread's fold cache as it last reported it (empty before its first report, and after it ended). */
  foldCacheSize(): FoldCacheSize {
    return this.foldCache;
  }

  /**
   * Starts the thread now and resolves once it has loaded (it opens its pool meanwhile), so that the first
   * callback does not wait for that. Rejects when it cannot load (its file missing, an error in a module
   * it imports): calltrail should not start then, rather than spool every callback.
   */
  async prepare(): Promise<this> {
    if (this.closed) return this;
    const worker = (this.worker ??= this.start());
    const loaded = await Promise.race([this.loaded.then(() => true), new Promise<boolean>((resolve) => worker.once('exit', () => resolve(false)))]);
    if (!loaded) throw new Error(`ingest thread: expected it to load, got its exit first${this.lastError ? ` (${this.lastError.message})` : ''}`);
    return this;
  }

  writeBatch(events: readonly CallbackEvent[]): Promise<WriteResult[]> {
    if (this.closed) return Promise.reject(new Error('ingest thread: expected to be running, got closed'));
    if (!this.worker && this.failedLoad && performance.now() - this.startedAt < RESTART_PAUSE_MS) {
      return Promise.reject(new Error('ingest thread: expected to be running, got a thread that failed to load; retrying shortly'));
    }
    const worker = (this.worker ??= this.start());
    const id = this.nextId++;
    return new Promise<WriteResult[]>((resolve, reject) => {
      // A batch not answered in time once the thread has loaded (a connection that hangs, past its statement timeout) ends the thread: its batches are spooled and the writer goes on.
      let timer: NodeJS.Timeout | undefined;
      void this.loaded.then(() => {
        if (this.waiting.has(id)) timer = setTimeout(() => void worker.terminate(), this.options.batchTimeoutMs ?? BATCH_TIMEOUT_MS);
      });
      const settle = { resolve: (r: WriteResult[]) => (clearTimeout(timer), resolve(r)), reject: (e: Error) => (clearTimeout(timer), reject(e)) };
      try {
        worker.postMessage({ id, events } satisfies WriteRequest);
        this.waiting.set(id, settle);
      } catch (err) {
        settle.reject(err as Error); // the events could not be cloned
      }
    });
  }

  /** Ends the thread at once, as a crash would: its batches fail (the writer spools them) and the next batch starts a new thread. */
  async terminate(): Promise<void> {
    await this.worker?.terminate();
  }

  /** Ends the thread (its pool closed) once the batches it has are answered; the writer is closed first. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('close');
    const cut = setTimeout(() => void worker.terminate(), 5000);
    await exited;
    clearTimeout(cut);
  }

  private start(): Worker {
    const worker = spawn(this.options);
    let ready = false;
    let loaded = () => undefined as void;
    this.loaded = new Promise<void>((resolve) => (loaded = resolve));
    this.startedAt = performance.now();
    this.lastError = null;
    worker.on('message', (m: ThreadMessage) => {
      if (m.kind === 'ready') {
        ready = true;
        return loaded();
      }
      if (m.kind === 'log') return this.onLog(m.message, fromWire(m.error));
      this.pool = m.pool;
      this.foldCache = m.foldCache;
      if (m.kind === 'pool') return;
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.error) w?.reject(fromWire(m.error));
      else w?.resolve(m.results ?? []);
    });
    worker.on('error', (err) => {
      this.lastError = err;
      this.onLog('ingest thread failed; the next batch starts a new one', err);
    });
    worker.once('exit', (code) => {
      if (this.worker === worker) this.worker = null;
      // Failed before it had loaded (not ended by terminate): the next one waits RESTART_PAUSE_MS, so there is no new thread per batch while it cannot load.
      this.failedLoad = !ready && this.lastError !== null;
      this.pool = this.noPool();
      this.foldCache = NO_FOLD_CACHE; // the next thread starts with an empty one
      const lost = new Error(`ingest thread: expected to answer the batch, got its exit (code ${code})`);
      for (const w of this.waiting.values()) w.reject(lost);
      this.waiting.clear();
    });
    return worker;
  }

  /** No connection open: before the first batch, or after the thread ended. */
  private noPool(): PoolStats {
    return { inUse: 0, idle: 0, waiting: 0, max: this.options.poolSize };
  }
}
