import { Spool, type SpoolStats } from '../spool/spool';
import type { CallbackEvent } from './trtc-v1.schema';

/** What the outage spool needs of the write path: store a batch, isolating a row PostgreSQL refuses. */
export interface SpoolReplayTarget {
  /** Stores the events through the normal idempotent path; throws when the database cannot. */
  store(events: readonly CallbackEvent[]): Promise<void>;
}

export interface EventSpoolOptions {
  readonly dir: string;
  readonly maxBytes: number;
  /** How often a non-empty spool tries to replay while the database is away (ms). */
  readonly retryMs: number;
  readonly onReplayError?: (err: unknown) => void;
  readonly onReplayed?: (records: number) => void;
  /** A segment damaged before its end: what it held intact is replayed, the file is kept aside. */
  readonly onCorrupt?: (path: string, unreadableBytes: number) => void;
}

/**
 * Callbacks the database could not take, kept on local disk (docs/design.md, principle 11; the
 * guarantees and limits are in docs/reliability.md). A callback is answered 200 only once its
 * record is fdatasync'd; it is replayed through the normal idempotent path, oldest first, at
 * start-up and whenever the database answers again, and a segment is deleted only when all its
 * records are committed.
 */
export class EventSpool {
  private timer: NodeJS.Timeout | null = null;
  private replaying: Promise<void> | null = null;

  private constructor(
    private readonly spool: Spool,
    private readonly options: EventSpoolOptions,
  ) {}

  static async open(options: EventSpoolOptions): Promise<EventSpool> {
    return new EventSpool(await Spool.open({ dir: options.dir, maxBytes: options.maxBytes, onCorrupt: options.onCorrupt }), options);
  }

  /** Durably appends the events (one fdatasync for all concurrent appends); rejects when the spool is full. */
  append(events: readonly CallbackEvent[]): Promise<void> {
    return this.spool.append(events.map((e) => Buffer.from(JSON.stringify(e))));
  }

  stats(): SpoolStats {
    return this.spool.stats();
  }

  /** False once the spool cannot take another largest callback: callbacks are then answered 503. */
  hasRoom(): boolean {
    return this.spool.stats().bytes + 128 * 1024 < this.options.maxBytes;
  }

  /** Replays now and then every `retryMs` while records remain. */
  start(target: SpoolReplayTarget): void {
    this.timer = setInterval(() => this.replaySoon(target), this.options.retryMs);
    this.timer.unref();
    this.replaySoon(target);
  }

  /** Starts a replay unless one is running or nothing is spooled; a failure waits for the next try. */
  replaySoon(target: SpoolReplayTarget): void {
    if (this.replaying || this.spool.stats().records === 0) return;
    this.replaying = this.spool
      .replay((batch) => target.store(batch.map((r) => JSON.parse(r.payload.toString('utf8')) as CallbackEvent)), 500)
      .then((n) => this.options.onReplayed?.(n), (err) => this.options.onReplayError?.(err))
      .finally(() => (this.replaying = null));
  }

  /** Stops replaying and closes the spool; what is left stays for the next start. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.replaying;
    await this.spool.close();
  }
}
