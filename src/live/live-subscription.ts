/** One item rendered for a group of subscriptions, shared by the queues of all its members. */
export interface Entry<R> {
  readonly position: string;
  /** Undefined while the rendering is in flight. */
  value: R | undefined;
  /** Set when the rendering failed: the subscriptions that reach it end with this error. */
  error?: unknown;
}

/** Where a subscription's entries go: the transport takes them with `take()` once told they are ready. */
export interface LiveOutlet<R> {
  /** `sub` may have entries to take (called again after each new one; cheap when already known). */
  ready(sub: LiveSubscription<R>): void;
}

/** Stored entries after a position, rendered for this subscriber alone, a page at a time: the replay of a resume. */
export interface Replay<R> {
  readonly page: (afterPosition: string) => Promise<readonly Entry<R>[]>;
  /** Entries per page: a shorter page is the last. */
  readonly size: number;
}

export interface SubscriptionOptions<R> {
  readonly outlet: LiveOutlet<R>;
  /** Largest number of waiting entries before the subscription is cut. */
  readonly max: number;
  /** The position it starts after: its cursor when it resumes, else the hub's last read position. */
  readonly startPosition: string;
  readonly replay: Replay<R> | null;
  /** Called (before it ends) when it falls more than `max` entries behind, with the position to resume after. */
  readonly onSlow: (position: string) => void;
  readonly onEnd: () => void;
  readonly joinedAt: number;
}

/** Position order of two positions (decimal text without leading zeros): a > b. */
export const positionAfter = (a: string, b: string): boolean => (a.length !== b.length ? a.length > b.length : a > b);

/**
 * One subscription as the hub sees it (docs/design.md, principles 5 and 10): a bounded queue of entries
 * its group rendered, in position order, preceded by the replay of stored entries after its cursor when it
 * resumes. The transport takes entries when told they are ready; more than `max` waiting means the client
 * cannot keep up: the subscription is cut (`onSlow` with the position of the last entry taken) and ends.
 */
export class LiveSubscription<R> {
  private queue: Entry<R>[] = [];
  private head = 0;
  /** The position of the last entry taken (handed to the transport), or where the subscription started. */
  private last: string;
  private page: readonly Entry<R>[] = [];
  private pageAt = 0;
  private fetching = false;
  private lastPage = false;
  /** Until the first live entry past it is taken: live entries at or below it came with the replay. */
  private skipThrough: string | null = null;
  private ended = false;
  private settle!: { resolve: () => void; reject: (err: unknown) => void };
  /** Resolves when the subscription ends; rejects when its replay fails. */
  readonly closed: Promise<void>;

  private readonly outlet: LiveOutlet<R>;
  private readonly max: number;
  private replay: Replay<R> | null;
  private readonly onSlow: (position: string) => void;
  private readonly onEnd: () => void;
  /** When it joined, on the hub's clock (a `callUpdated` subscriber gets no leaving update of a call it was never sent). */
  readonly joinedAt: number;

  constructor(options: SubscriptionOptions<R>) {
    ({ outlet: this.outlet, max: this.max, replay: this.replay, onSlow: this.onSlow, onEnd: this.onEnd, joinedAt: this.joinedAt } = options);
    this.last = options.startPosition;
    this.closed = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    this.closed.catch(() => undefined); // the transport observes it; nobody else has to
  }

  /** Entries waiting to be taken (the live queue). */
  get size(): number {
    return this.queue.length - this.head;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Where a cut-off subscriber resumes: after the last entry handed to its transport. */
  get resumePosition(): string {
    return this.last;
  }

  /** Starts the replay, if any: called once the subscription is registered, so nothing falls between the two. */
  start(): void {
    if (this.replay !== null && !this.fetching) void this.fetch(this.replay);
  }

  /** A live entry of its group. */
  offer(entry: Entry<R>): void {
    if (this.ended) return;
    this.queue.push(entry);
    if (this.size > this.max) {
      this.onSlow(this.last); // the transport closes first, so nothing more is sent after the cut
      this.end();
    } else if (entry.value !== undefined && this.replay === null) this.outlet.ready(this);
  }

  /** An entry this subscription waits for has been rendered. */
  notify(): void {
    if (!this.ended) this.outlet.ready(this);
  }

  /** The next entry to send, or null when there is none yet (its rendering or the replay page is in flight). */
  take(): Entry<R> | null {
    if (this.ended) return null;
    if (this.replay !== null) return this.takeReplayed();
    while (this.head < this.queue.length) {
      const entry = this.queue[this.head];
      if (entry.error !== undefined) return this.fail(entry.error);
      if (entry.value === undefined) return null;
      this.queue[this.head++] = undefined as unknown as Entry<R>; // shared entries are freed once all members took them
      if (this.head === this.queue.length) this.queue.length = this.head = 0;
      else if (this.head > 1024 && this.head * 2 > this.queue.length) this.compact();
      if (this.skipThrough !== null) {
        if (!positionAfter(entry.position, this.skipThrough)) continue;
        this.skipThrough = null;
      }
      this.last = entry.position;
      return entry;
    }
    return null;
  }

  /** Ends the subscription (the client left, or the hub stops); its queue is dropped. */
  end(): void {
    this.finish(null);
  }

  private takeReplayed(): Entry<R> | null {
    const entry = this.page[this.pageAt];
    if (entry !== undefined) {
      if (entry.error !== undefined) return this.fail(entry.error);
      if (entry.value === undefined) return null;
      this.pageAt++;
      this.last = entry.position;
      return entry;
    }
    if (this.lastPage) {
      // The stored ones are done: the live queue goes on, skipping what the replay already gave.
      this.replay = null;
      this.page = [];
      this.skipThrough = this.last;
      return this.take();
    }
    if (!this.fetching) void this.fetch(this.replay!);
    return null;
  }

  private async fetch(replay: Replay<R>): Promise<void> {
    this.fetching = true;
    try {
      const page = await replay.page(this.last);
      this.page = page;
      this.pageAt = 0;
      this.lastPage = page.length < replay.size;
    } catch (err) {
      this.fail(err);
      return;
    } finally {
      this.fetching = false;
    }
    this.notify();
  }

  private fail(err: unknown): null {
    this.finish({ err });
    return null;
  }

  private finish(failure: { err: unknown } | null): void {
    if (this.ended) return;
    this.ended = true;
    this.queue = [];
    this.page = [];
    this.onEnd();
    if (failure) this.settle.reject(failure.err);
    else this.settle.resolve();
  }

  private compact(): void {
    this.queue = this.queue.slice(this.head);
    this.head = 0;
  }
}
