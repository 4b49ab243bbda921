import { AppError } from '../domain/app-error';
import { callKeyText } from '../domain/call-key';
import type { EventWindow } from '../domain/partition-ranges';
import { CallTooLargeError, type WriteResult } from './ingest.repository';
import type { CallbackEvent } from './trtc-v1.schema';

/** What a submitted callback became: committed now, or kept in the outage spool until the database is back. */
export type SubmitResult = WriteResult | 'spooled';

/** Where callbacks go when the database cannot take them (`EventSpool`). */
export interface SpoolSink {
  /** Resolves once the events are durable on local disk; rejects when they cannot be kept. */
  append(events: readonly CallbackEvent[]): Promise<void>;
}

/** An event's outcome when its batch was written: its result, or the refusal of a row PostgreSQL would not store. */
export type EventOutcome = WriteResult | AppError;

interface Pending {
  readonly event: CallbackEvent;
  /** Set when the caller was already answered (503, or spooled): the event is then not written from the queue. */
  expired: boolean;
  /** Set once the caller has its answer. */
  done: boolean;
  readonly timer: NodeJS.Timeout;
  resolve(result: SubmitResult): void;
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
  /** A callback not committed within this time is spooled, or without a spool answered UNAVAILABLE (and, if still queued, dropped). */
  readonly timeoutMs: number;
  /** Most callbacks waiting at once; beyond it new ones are answered UNAVAILABLE at once. */
  readonly maxPending: number;
  readonly onError?: (err: unknown, batchSize: number) => void;
  readonly onBatch?: (size: number, ms: number) => void;
  /** The outage spool; without one, a callback the database cannot take is answered UNAVAILABLE. */
  readonly spool?: SpoolSink | null;
  /**
   * The event times taken now (`eventWindow`), or null when every event is kept (`RETENTION_DAYS`): an
   * event before it is refused since its partition may be gone, one after it since it would hold back
   * retention (docs/reliability.md, Retention).
   */
  readonly window?: () => EventWindow | null;
}

/** SQLSTATE class 22 (data exception) or 54 (a limit, e.g. index row size): one row is at fault, not the database. */
const isDataError = (err: unknown): boolean => /^(22|54)/.test(String((err as { code?: unknown } | null)?.code ?? ''));

/** The refusal of an event dated outside `window`, or null. */
function windowRefusal(e: CallbackEvent, window: EventWindow): AppError | null {
  const iso = (t: number) => new Date(t * 1000).toISOString();
  if (e.eventTime < window.earliest) {
    return new AppError('EVENT_EXPIRED', `EventTime: expected a time within RETENTION_DAYS (at or after ${iso(window.earliest)}), got ${iso(e.eventTime)}`, 'EventTime');
  }
  if (e.eventTime > window.latest) {
    return new AppError('EVENT_AHEAD', `EventTime: expected a time at most a day after the server's clock while RETENTION_DAYS is set (at or before ${iso(window.latest)}), got ${iso(e.eventTime)}`, 'EventTime');
  }
  return null;
}

const unavailable = (reason: string) => new AppError('UNAVAILABLE', `database: expected ${reason}; retry later`);

/**
 * Group commit (docs/design.md, principle 4): callbacks that arrive while a transaction is in flight are
 * written together in the next one. A request is settled only after its transaction committed
 * (or failed); a failed transaction fails only the requests in it. When the database cannot take a
 * batch (or a callback waits past its deadline), the callbacks go to the spool, and are answered only
 * once it holds them durably (docs/design.md, principles 1 and 11); data errors are never spooled.
 * The queue is bounded, and a callback already answered is not written from the queue later.
 */
export class BatchWriter {
  private queue: Pending[] = [];
  private draining: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly store: EventStore,
    private readonly options: BatchWriterOptions,
  ) {}

  submit(event: CallbackEvent): Promise<SubmitResult> {
    if (this.closed) return Promise.reject(new AppError('UNAVAILABLE', 'server: expected to be running, got shutting down; retry later'));
    // Checked before it is queued too: a refused callback must never be spooled (and acknowledged) with its batch.
    const window = this.options.window?.() ?? null;
    const refusal = window === null ? null : windowRefusal(event, window);
    if (refusal !== null) return Promise.reject(refusal);
    if (this.queue.length >= this.options.maxPending) {
      return Promise.reject(unavailable(`fewer than ${this.options.maxPending} callbacks waiting, got a full queue`));
    }
    return new Promise<SubmitResult>((resolve, reject) => {
      const pending: Pending = {
        event,
        expired: false,
        done: false,
        resolve,
        reject,
        timer: setTimeout(() => {
          pending.expired = true;
          void this.spoolOrFail([pending], `a commit within ${this.options.timeoutMs} ms, got none`);
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

  /**
   * Writes events in one transaction; if PostgreSQL refuses a row (a data error), writes them one by
   * one so the row at fault does not fail the others, and returns its refusal in its place.
   * Throws when the database cannot take them at all.
   */
  async writeIsolated(events: readonly CallbackEvent[]): Promise<EventOutcome[]> {
    const window = this.options.window?.() ?? null;
    if (window !== null && events.some((e) => e.eventTime < window.earliest || e.eventTime > window.latest)) return this.outsideWindow(events, window);
    try {
      return await this.store.writeBatch(events);
    } catch (err) {
      if (err instanceof CallTooLargeError) return this.withoutCalls(events, err);
      if (!isDataError(err)) throw err;
      if (events.length === 1) {
        return [new AppError('INVALID_FIELD', `body: expected values PostgreSQL can store, got one it refused (${(err as Error).message})`, 'body')];
      }
      const outcomes: EventOutcome[] = [];
      for (const e of events) outcomes.push(...(await this.writeIsolated([e])));
      return outcomes;
    }
  }

  /** Refuses the events of the calls that are too large and writes the others. */
  private withoutCalls(events: readonly CallbackEvent[], err: CallTooLargeError): Promise<EventOutcome[]> {
    const large = new Set(err.calls.map(callKeyText));
    return this.refusing(events, (e) =>
      large.has(callKeyText(e)) ? new AppError('CALL_TOO_LARGE', `CallId: expected a call of at most ${err.max} stored events (CALL_MAX_EVENTS), got "${e.callId}" with more`, 'CallId') : null,
    );
  }

  /** Refuses the events dated before or after the window and writes the others. */
  private outsideWindow(events: readonly CallbackEvent[], window: EventWindow): Promise<EventOutcome[]> {
    return this.refusing(events, (e) => windowRefusal(e, window));
  }

  /** Writes the events `refusal` lets through and answers the others with their refusal, in input order. */
  private async refusing(events: readonly CallbackEvent[], refusal: (e: CallbackEvent) => AppError | null): Promise<EventOutcome[]> {
    const refused = events.map(refusal);
    const kept = events.filter((_, i) => refused[i] === null);
    const written = kept.length > 0 ? await this.writeIsolated(kept) : [];
    let next = 0;
    return refused.map((r) => r ?? written[next++]);
  }

  private settle(p: Pending, outcome: { result?: SubmitResult; error?: unknown }): void {
    clearTimeout(p.timer);
    if (p.done) return;
    p.done = true;
    if (outcome.error !== undefined) p.reject(outcome.error);
    else p.resolve(outcome.result as SubmitResult);
  }

  private async flush(batch: Pending[]): Promise<void> {
    const started = performance.now();
    let outcomes: EventOutcome[];
    try {
      outcomes = await this.writeIsolated(batch.map((p) => p.event));
    } catch (err) {
      this.options.onError?.(err, batch.length);
      return this.spoolOrFail(batch, 'to store the callback, got a database error');
    }
    this.options.onBatch?.(batch.length, performance.now() - started);
    batch.forEach((p, i) => {
      const outcome = outcomes[i];
      this.settle(p, outcome instanceof AppError ? { error: outcome } : { result: outcome });
    });
  }

  /** Keeps the callbacks in the spool and answers them; without a spool (or if it fails), UNAVAILABLE. */
  private async spoolOrFail(pendings: Pending[], reason: string): Promise<void> {
    const waiting = pendings.filter((p) => !p.done);
    if (waiting.length === 0) return;
    if (this.options.spool) {
      try {
        await this.options.spool.append(waiting.map((p) => p.event));
        for (const p of waiting) this.settle(p, { result: 'spooled' });
        return;
      } catch (err) {
        this.options.onError?.(err, waiting.length);
      }
    }
    for (const p of waiting) this.settle(p, { error: unavailable(reason) });
  }
}
