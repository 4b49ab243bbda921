import { AppError } from '../domain/app-error';
import { eventKey, type BatchOutcome } from './ingest.repository';
import type { CallbackEvent } from './trtc-v1.schema';

/** What a submitted callback became once its transaction committed. */
export type WriteResult = 'stored' | 'duplicate';

interface Pending {
  readonly event: CallbackEvent;
  resolve(result: WriteResult): void;
  reject(err: unknown): void;
}

/** The storage step the writer batches into; `IngestRepository.writeBatch` in production. */
export type WriteBatch = (events: readonly CallbackEvent[]) => Promise<BatchOutcome>;

export interface BatchWriterOptions {
  /** Largest number of events in one transaction. */
  readonly maxBatch: number;
  readonly onError?: (err: unknown, batchSize: number) => void;
  readonly onBatch?: (size: number, stored: number, ms: number) => void;
}

/** SQLSTATE class 22 (data exception): one row is at fault, not the database. */
const isDataError = (err: unknown): boolean => /^22/.test(String((err as { code?: unknown }).code ?? ''));

/**
 * Group commit (DESIGN principle 4): callbacks that arrive while a transaction is in flight are
 * written together in the next one. A request is settled only after its transaction committed
 * (or failed); a failed transaction fails only the requests in it.
 */
export class BatchWriter {
  private queue: Pending[] = [];
  private draining: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly writeBatch: WriteBatch,
    private readonly options: BatchWriterOptions,
  ) {}

  /** Number of callbacks waiting for a transaction. */
  get pending(): number {
    return this.queue.length;
  }

  submit(event: CallbackEvent): Promise<WriteResult> {
    if (this.closed) return Promise.reject(new AppError('UNAVAILABLE', 'server: expected to be running, got shutting down'));
    return new Promise<WriteResult>((resolve, reject) => {
      this.queue.push({ event, resolve, reject });
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
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      await this.flush(batch);
    }
    this.draining = null;
  }

  private async flush(batch: Pending[]): Promise<void> {
    const started = performance.now();
    try {
      const outcome = await this.writeBatch(batch.map((p) => p.event));
      this.options.onBatch?.(batch.length, outcome.stored.size, performance.now() - started);
      for (const p of batch) p.resolve(outcome.stored.has(eventKey(p.event)) ? 'stored' : 'duplicate');
    } catch (err) {
      this.options.onError?.(err, batch.length);
      if (batch.length > 1 && isDataError(err)) {
        // Isolate the row at fault so it does not fail its batch-mates on every retry.
        for (const p of batch) await this.flush([p]);
        return;
      }
      const failure = new AppError('UNAVAILABLE', 'database: expected to store the callback, got an error; retry later');
      for (const p of batch) p.reject(failure);
    }
  }
}
