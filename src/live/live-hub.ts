import type { LiveCallRecord } from '../calls/live.repository';
import type { CallEventRecord } from '../calls/records';
import { callKeyText, type CallKey } from '../domain/call-key';
import type { AppScope } from '../domain/app-scope';
import { eventCursor } from '../domain/cursor';
import type { CallEventFilter, CallFilter } from '../domain/filters';
import { callMatches, checkCallFilter, eventMatches } from '../domain/live-filter';
import { DEFAULT_FANOUT_BUDGET_MS, FanoutScheduler, PacedIterator } from './fanout-scheduler';
import { LiveQueue } from './live-queue';
import { ResumedEvents } from './resumed-events';

/** What the hub reads (LiveRepository and CallEventRepository in production). */
export interface LiveSource {
  headPosition(): Promise<string>;
  eventsAfter(position: string, limit: number): Promise<CallEventRecord[]>;
  callsWithParticipants(keys: readonly CallKey[]): Promise<LiveCallRecord[]>;
  /** Stored events matching a subscriber's filter and scope, after a position. */
  replay(scope: AppScope, filter: CallEventFilter | null | undefined, afterPosition: string, limit: number): Promise<readonly CallEventRecord[]>;
}

export interface LiveHubOptions {
  /** Largest number of undelivered items per subscriber before it is cut off. */
  readonly queueMax: number;
  /** Catch-up read interval: heals a lost notification. */
  readonly pollMs: number;
  /** Rows per read. */
  readonly readBatch: number;
  /** Time the fan-out may use in one turn of the event loop before it yields to I/O (LIVE_FANOUT_BUDGET_MS). */
  readonly fanoutBudgetMs?: number;
  readonly onError?: (err: unknown) => void;
}

interface EventSubscriber {
  readonly scope: AppScope;
  readonly filter: CallEventFilter | null | undefined;
  readonly queue: LiveQueue<CallEventRecord>;
}

interface CallSubscriber {
  readonly scope: AppScope;
  readonly filter: CallFilter | null | undefined;
  readonly queue: LiveQueue<LiveCallRecord>;
  /** Calls this subscriber was sent and that still match: a change that makes one stop matching is sent too. */
  readonly following: Set<string>;
}

/**
 * One per process (docs/design.md, principle 6): on a wake-up (NOTIFY or the periodic poll) it reads the
 * events after the last position it saw, once, and dispatches them in memory to every subscriber
 * whose filter and scope match. Idle subscribers cost no database work.
 */
export class LiveHub {
  private last = '0';
  private pumping: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly eventSubs = new Set<EventSubscriber>();
  private readonly callSubs = new Set<CallSubscriber>();
  /** Calls changed by events already read whose new state has not been dispatched yet (retried after a failed read). */
  private readonly pendingCalls = new Map<string, CallKey>();
  /** Paces dispatch and every subscriber's stream together (docs/design.md, principle 10). */
  private readonly scheduler: FanoutScheduler;

  constructor(
    private readonly source: LiveSource,
    private readonly options: LiveHubOptions,
  ) {
    this.scheduler = new FanoutScheduler(options.fanoutBudgetMs ?? DEFAULT_FANOUT_BUDGET_MS);
  }

  /** Number of open subscriptions, for metrics. */
  get subscriptions(): number {
    return this.eventSubs.size + this.callSubs.size;
  }

  /** The highest position read and dispatched, for metrics (compare with the newest stored one). */
  get position(): string {
    return this.last;
  }

  /** Undelivered items in the fullest subscriber queue, for metrics. */
  get maxQueueDepth(): number {
    let max = 0;
    for (const s of this.eventSubs) max = Math.max(max, s.queue.size);
    for (const s of this.callSubs) max = Math.max(max, s.queue.size);
    return max;
  }

  async start(): Promise<void> {
    this.last = await this.source.headPosition();
    this.timer = setInterval(() => this.wake(), this.options.pollMs);
    this.timer.unref();
  }

  /** Ends every subscription and stops polling. */
  stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const s of [...this.eventSubs, ...this.callSubs]) s.queue.end();
    return this.pumping ?? Promise.resolve();
  }

  /** Something may have been committed: read it (coalesced while a read is in flight). */
  wake(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = this.pump()
      .catch((err) => this.options.onError?.(err))
      .finally(() => {
        this.pumping = null;
      });
  }

  /**
   * Events matching `filter` in the key's scope: the stored ones after `afterPosition` (when given),
   * then live ones, in position order, each once. `onSlow` gets the cursor to resume from if the
   * subscriber falls more than `queueMax` events behind.
   */
  subscribeEvents(scope: AppScope, filter: CallEventFilter | null | undefined, afterPosition: string | null, onSlow: (cursor: string) => void): AsyncIterableIterator<CallEventRecord> {
    const sub: EventSubscriber = {
      scope,
      filter,
      queue: new LiveQueue<CallEventRecord>(this.options.queueMax, () => onSlow(eventCursor(stream.resumePosition)), () => this.eventSubs.delete(sub)),
    };
    this.eventSubs.add(sub); // registered before `this.last` is read: every later event reaches the queue
    const replay = afterPosition === null ? null : (after: string) => this.source.replay(scope, filter, after, this.options.readBatch);
    const stream: ResumedEvents = new ResumedEvents(sub.queue, replay, afterPosition ?? this.last, this.options.readBatch);
    return new PacedIterator(stream, this.scheduler);
  }

  /** The state of each matching call after each change. */
  subscribeCalls(scope: AppScope, filter: CallFilter | null | undefined, onSlow: () => void): AsyncIterableIterator<LiveCallRecord> {
    checkCallFilter(filter);
    const sub: CallSubscriber = {
      scope,
      filter,
      following: new Set(),
      queue: new LiveQueue<LiveCallRecord>(this.options.queueMax, onSlow, () => this.callSubs.delete(sub)),
    };
    this.callSubs.add(sub);
    return new PacedIterator(sub.queue, this.scheduler);
  }

  private async pump(): Promise<void> {
    do {
      this.again = false;
      for (;;) {
        const rows = await this.source.eventsAfter(this.last, this.options.readBatch);
        if (rows.length === 0) break;
        this.last = rows[rows.length - 1].position;
        if (this.callSubs.size > 0) for (const e of rows) this.pendingCalls.set(callKeyText(e), { sdkAppId: e.sdkAppId, callId: e.callId });
        // One event matched against every subscriber is one unit: callbacks get the event loop in between.
        // Dispatch goes before the subscribers' sends, so a subscriber that cannot keep up reaches queueMax.
        for (const e of rows) if (this.eventSubs.size > 0) await this.scheduler.run(() => this.dispatchEvent(e), true);
        await this.dispatchCalls();
        if (rows.length < this.options.readBatch || this.stopped) break;
      }
      await this.dispatchCalls(); // calls left over from a failed read
    } while (this.again && !this.stopped);
  }

  private dispatchEvent(e: CallEventRecord): void {
    for (const s of this.eventSubs) if (eventMatches(e, s.filter, s.scope)) s.queue.push(e);
  }

  private async dispatchCalls(): Promise<void> {
    if (this.callSubs.size === 0) this.pendingCalls.clear();
    if (this.pendingCalls.size === 0) return;
    const calls = await this.source.callsWithParticipants([...this.pendingCalls.values()]); // on failure they stay pending
    this.pendingCalls.clear();
    calls.sort((a, b) => (BigInt(a.lastPosition) < BigInt(b.lastPosition) ? -1 : 1));
    for (const c of calls) await this.scheduler.run(() => this.dispatchCall(c), true);
  }

  private dispatchCall(c: LiveCallRecord): void {
    const key = callKeyText(c);
    for (const s of this.callSubs) {
      if (callMatches(c, s.filter, s.scope)) {
        s.queue.push(c);
        if (c.status === 'ENDED') s.following.delete(key);
        else s.following.add(key);
      } else if (s.following.delete(key)) {
        s.queue.push(c); // the update that takes it out of the filter (e.g. it ended)
      }
    }
  }
}
