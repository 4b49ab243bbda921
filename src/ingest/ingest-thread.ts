import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { PoolStats } from '../db/pool-stats';
import type { PartitionInterval } from '../domain/partition-ranges';
import type { EventStore } from './batch-writer';
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
}

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

/** What the thread sends back: a batch's results or its error, with its pool's state; its pool's state (every second); or a line to log. */
export type ThreadMessage =
  | { readonly kind: 'reply'; readonly id: number; readonly results?: WriteResult[]; readonly error?: WireError; readonly pool: PoolStats }
  | { readonly kind: 'pool'; readonly pool: PoolStats }
  | { readonly kind: 'ready' }
  | { readonly kind: 'log'; readonly message: string; readonly error: WireError };

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
  const file = join(__dirname, `ingest-thread.worker${extname(__filename)}`);
  if (extname(__filename) !== '.ts') return new Worker(file, { workerData: options });
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
  private closed = false;

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

  /**
   * Starts the thread now and resolves once it has loaded (it opens its pool meanwhile), so that the first
   * callback does not wait for that; also resolves if it fails to start (the first batch then starts another).
   */
  async prepare(): Promise<this> {
    if (this.closed) return this;
    const worker = (this.worker ??= this.start());
    await new Promise<void>((resolve) => {
      const done = (m?: ThreadMessage) => {
        if (m && m.kind !== 'ready') return;
        worker.off('message', done);
        resolve();
      };
      worker.on('message', done);
      worker.once('exit', () => done());
    });
    return this;
  }

  writeBatch(events: readonly CallbackEvent[]): Promise<WriteResult[]> {
    if (this.closed) return Promise.reject(new Error('ingest thread: expected to be running, got closed'));
    const worker = (this.worker ??= this.start());
    const id = this.nextId++;
    return new Promise<WriteResult[]>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, events } satisfies WriteRequest);
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
    worker.on('message', (m: ThreadMessage) => {
      if (m.kind === 'ready') return;
      if (m.kind === 'log') return this.onLog(m.message, fromWire(m.error));
      this.pool = m.pool;
      if (m.kind === 'pool') return;
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.error) w?.reject(fromWire(m.error));
      else w?.resolve(m.results ?? []);
    });
    worker.on('error', (err) => this.onLog('ingest thread failed; the next batch starts a new one', err));
    worker.once('exit', (code) => {
      if (this.worker === worker) this.worker = null;
      this.pool = this.noPool();
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
