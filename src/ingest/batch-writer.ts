import { AppError } from '../domain/app-error';
import type { WriteResult } from './ingest.repository';
import type { CallbackEvent } from './trtc-v1.schema';

export type { WriteResult };

interface Pending {
  readonly event: CallbackEvent;
  /** Set when the caller was already answered 503: the event is then not written (Tencent retries it). */
  expired: boolean;
  readonly timer: NodeJS.Timeout;
  resolve(result: WriteResult): void;
  reject(err: unknown): void;
}

/** Where the writer stores its batches: `IngestRepository` in production. */
export interface EventStore {
  /** Stores the events in one transaction; resolves with what each became, in input order. */
  writeBatch(events: readonly CallbackEvent[]): Promise<WriteResult[]>;
}

export interface BatchWriterOptions {
  /** Largest number of events in one transaction. */
  readonly maxBatch: number;
  /** A callback not committed within this time is answered UNAVAILABLE (and, if still queued, dropped). */
  readonly timeoutMs: number;
  /** Most callbacks waiting at once; beyond it new ones are answered UNAVAILABLE at once. */
  readonly maxPending: number;
  readonly onError?: (err: unknown, batchSize: number) => void;
  readonly onBatch?: (size: number, ms: number) => void;
}

/** SQLSTATE class 22 (data exception) or 54 (a limit, e.g. index row size): one row is at fault, not the database. */
const isDataError = (err: unknown): boolean => /^(22|54)/.test(String((err as { code?: unknown } | null)?.code ?? ''));

const unavailable = (reason: string) => new AppError('UNAVAILABLE', `database: expected ${reason}; retry later`);

/**
 * Group commit (docs/design.md, principle 4): callbacks that arrive while a transaction is in flight are
 * written together in the next one. A request is settled only after its transaction committed
 * (or failed); a failed transaction fails only the requests in it. The queue is bounded, and a
 * callback whose caller already got 503 is not written later, so an outage cannot pile up a backlog.
 */
export class BatchWriter {
  private queue: Pending[] = [];
  private draining: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly store: EventStore,
    private readonly options: BatchWriterOptions,
  ) {}

  submit(event: CallbackEvent): Promise<WriteResult> {
    if (this.closed) return Promise.reject(new AppError('UNAVAILABLE', 'server: expected to be running, got shutting down; retry later'));
    if (this.queue.length >= this.options.maxPending) {
      return Promise.reject(unavailable(`fewer than ${this.options.maxPending} callbacks waiting, got a full queue`));
    }
    return new Promise<WriteResult>((resolve, reject) => {
      const pending: Pending = {
        event,
        expired: false,
        resolve,
        reject,
        timer: setTimeout(() => {
          pending.expired = true;
          reject(unavailable(`a commit within ${this.options.timeoutMs} ms, got none`));
        }, this.options.timeoutMs),
      };
      this.queue.push(pending);
      // setImmediate gathers every callback that arrived in this turn of the event loop.
      this.draining ??= new Promise<void>((r) => setImmediate(r)).then(() => this.drain());
    });
  }

  /** Stops taking callbacks and waits until every queued one is settled. */
  async close(): Promise<void> {
    this.closed = true;
    await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.options.maxBatch).filter((p) => !p.expired);
        if (batch.length > 0) await this.flush(batch);
      }
    } finally {
      this.draining = null; // whatever happened, the next callback starts a new drain
    }
  }

  private settle(p: Pending, outcome: { result?: WriteResult; error?: unknown }): void {
    clearTimeout(p.timer);
    if (outcome.error !== undefined) p.reject(outcome.error);
    else p.resolve(outcome.result as WriteResult);
  }

  private async flush(batch: Pending[]): Promise<void> {
    const started = performance.now();
    try {
      const results = await this.store.writeBatch(batch.map((p) => p.event));
      this.options.onBatch?.(batch.length, performance.now() - started);
      batch.forEach((p, i) => this.settle(p, { result: results[i] }));
    } catch (err) {
      this.options.onError?.(err, batch.length);
      if (isDataError(err)) {
        // Isolate the row at fault so it does not fail its batch-mates; alone, it is refused for good.
        if (batch.length > 1) for (const p of batch) await this.flush([p]);
        else this.settle(batch[0], { error: new AppError('INVALID_FIELD', `body: expected values PostgreSQL can store, got one it refused (${(err as Error).message})`, 'body') });
        return;
      }
      for (const p of batch) this.settle(p, { error: unavailable('to store the callback, got a database error') });
    }
  }
}
