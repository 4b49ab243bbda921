import type { LiveCallRecord } from '../calls/live.repository';
import type { CallEventRecord } from '../calls/records';
import { callKeyText, type CallKey } from '../domain/call-key';
import type { AppScope } from '../domain/app-scope';
import { eventCursor } from '../domain/cursor';
import type { CallEventFilter, CallFilter } from '../domain/filters';
import { checkCallFilter, eventMatches } from '../domain/live-filter';
import { CALL_MATCHING, callUpdateSteps } from './call-updates';
import { DEFAULT_FANOUT_BUDGET_MS, FanoutScheduler, PacedIterator } from './fanout-scheduler';
import { LiveGroups, renderEntry, type GroupMatching, type LiveGroup, type LiveRenderer } from './live-groups';
import { LiveOutbox, type Wire } from './live-outbox';
import { EntryStream, LiveControl } from './live-streams';
import { LiveSubscription, type LiveOutlet, type Replay } from './live-subscription';

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
  /** Most of the event loop's time the fan-out may take, from 0 to 1 (LIVE_FANOUT_PERCENT / 100); 1 when not given. */
  readonly fanoutShare?: number;
  readonly onError?: (err: unknown) => void;
}

/** How a subscription's items reach its client: rendered by `renderer` (once per group), taken by `outlet`. */
export interface LiveDelivery<T, R> {
  readonly renderer: LiveRenderer<T, R>;
  readonly outlet: LiveOutlet<R>;
}

/** `callEventAdded` groups are pinned by the user or the call their filter names. */
const EVENT_MATCHING: GroupMatching<CallEventRecord, CallEventFilter> = {
  pin: (f) => ({ user: f?.userId, call: f?.callId }),
  users: (e) => [e.userId],
  call: (e) => e.callId,
  matches: eventMatches,
};
/** In-process readers get the records themselves: one rendering (none) shared by all. */
const records = <T>(): LiveRenderer<T, T> => ({ key: 'records', render: (item) => item });

/**
 * One per process (docs/design.md, principle 6): on a wake-up (NOTIFY or the periodic poll) it reads the
 * events after the last position it saw, once, matches each against the groups of subscriptions (same
 * scope, filter and rendering) whose filter could match it, renders it once per matching group and
 * offers that to each member's bounded queue. Idle subscribers cost no database work.
 */
export class LiveHub {
  private last = '0';
  private pumping: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly events = new LiveGroups<CallEventRecord, unknown, CallEventFilter>(EVENT_MATCHING);
  private readonly calls = new LiveGroups<LiveCallRecord, unknown, CallFilter>(CALL_MATCHING);
  private members = 0;
  /** Counts subscriptions and call dispatches: orders a `callUpdated` member's joining against what its group was sent. */
  private clock = 0;
  /** Calls changed by events already read whose new state has not been dispatched yet (retried after a failed read). */
  private readonly pendingCalls = new Map<string, CallKey>();
  /** Paces dispatch and every socket's writes together (docs/design.md, principle 10). */
  private readonly scheduler: FanoutScheduler;

  constructor(
    private readonly source: LiveSource,
    private readonly options: LiveHubOptions,
  ) {
    this.scheduler = new FanoutScheduler(options.fanoutBudgetMs ?? DEFAULT_FANOUT_BUDGET_MS, undefined, options.fanoutShare ?? 1);
  }

  /** Number of open subscriptions, for metrics. */
  get subscriptions(): number {
    return this.members;
  }

  /** Number of groups (distinct scope, filter and rendering), for metrics. */
  get groups(): number {
    return this.events.size + this.calls.size;
  }

  /** The highest position read and dispatched, for metrics (compare with the newest stored one). */
  get position(): string {
    return this.last;
  }

  /** Undelivered items in the fullest subscriber queue, for metrics. */
  get maxQueueDepth(): number {
    let max = 0;
    for (const group of [...this.events.all(), ...this.calls.all()]) for (const m of group.members) max = Math.max(max, m.size);
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
    for (const group of [...this.events.all(), ...this.calls.all()]) for (const m of [...group.members]) m.end();
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

  /** The outbox of one socket: its subscriptions' writes, paced with the hub's dispatch. */
  outbox<R>(wire: Wire): LiveOutbox<R> {
    return new LiveOutbox<R>(wire, this.scheduler);
  }

  /**
   * Events matching `filter` in the key's scope: the stored ones after `afterPosition` (when given),
   * then live ones, in position order, each once, rendered by `delivery.renderer` and taken by its outlet.
   * `onSlow` gets the cursor to resume from if the subscriber falls more than `queueMax` events behind.
   */
  deliverEvents<R>(scope: AppScope, filter: CallEventFilter | null | undefined, afterPosition: string | null, onSlow: (cursor: string) => void, delivery: LiveDelivery<CallEventRecord, R>): LiveControl {
    return new LiveControl(this.joinEvents(scope, filter, afterPosition, onSlow, delivery) as LiveSubscription<unknown>);
  }

  /** `deliverEvents` read in-process: the records themselves, paced like a socket's writes. */
  subscribeEvents(scope: AppScope, filter: CallEventFilter | null | undefined, afterPosition: string | null, onSlow: (cursor: string) => void): AsyncIterableIterator<CallEventRecord> {
    const stream = new EntryStream<CallEventRecord>();
    stream.attach(this.joinEvents(scope, filter, afterPosition, onSlow, { renderer: records(), outlet: stream }));
    return new PacedIterator(stream, this.scheduler);
  }

  /** The state of each matching call after each change, and the change that makes a call it was sent stop matching. */
  deliverCalls<R>(scope: AppScope, filter: CallFilter | null | undefined, onSlow: () => void, delivery: LiveDelivery<LiveCallRecord, R>): LiveControl {
    return new LiveControl(this.joinCalls(scope, filter, onSlow, delivery) as LiveSubscription<unknown>);
  }

  /** `deliverCalls` read in-process. */
  subscribeCalls(scope: AppScope, filter: CallFilter | null | undefined, onSlow: () => void): AsyncIterableIterator<LiveCallRecord> {
    const stream = new EntryStream<LiveCallRecord>();
    stream.attach(this.joinCalls(scope, filter, onSlow, { renderer: records(), outlet: stream }));
    return new PacedIterator(stream, this.scheduler);
  }

  private joinEvents<R>(scope: AppScope, filter: CallEventFilter | null | undefined, after: string | null, onSlow: (cursor: string) => void, delivery: LiveDelivery<CallEventRecord, R>): LiveSubscription<R> {
    const group = this.events.join(scope, filter, delivery.renderer) as LiveGroup<CallEventRecord, R, CallEventFilter>;
    const size = this.options.readBatch;
    const replay: Replay<R> | null =
      after === null
        ? null
        : {
            size,
            page: async (from) => (await this.source.replay(scope, filter, from, size)).map((e) => renderEntry(delivery.renderer, e, e.position, () => sub.notify())),
          };
    // Registered before `this.last` is read: every later event reaches the queue (docs/design.md, principle 5).
    const sub: LiveSubscription<R> = this.register(group, this.events, delivery.outlet, after === null ? this.last : BigInt(after).toString(), replay, (position) => onSlow(eventCursor(position)));
    return sub;
  }

  private joinCalls<R>(scope: AppScope, filter: CallFilter | null | undefined, onSlow: () => void, delivery: LiveDelivery<LiveCallRecord, R>): LiveSubscription<R> {
    checkCallFilter(filter);
    const group = this.calls.join(scope, filter, delivery.renderer) as LiveGroup<LiveCallRecord, R, CallFilter>;
    return this.register(group, this.calls, delivery.outlet, this.last, null, () => onSlow());
  }

  private register<T, R, F>(group: LiveGroup<T, R, F>, groups: LiveGroups<T, unknown, F>, outlet: LiveOutlet<R>, startPosition: string, replay: Replay<R> | null, onSlow: (position: string) => void): LiveSubscription<R> {
    const sub: LiveSubscription<R> = new LiveSubscription<R>({
      outlet,
      max: this.options.queueMax,
      startPosition,
      replay,
      onSlow,
      joinedAt: ++this.clock,
      onEnd: () => {
        this.members--;
        groups.leave(group as LiveGroup<T, unknown, F>, sub);
      },
    });
    group.members.add(sub);
    this.members++;
    sub.start();
    return sub;
  }

  private async pump(): Promise<void> {
    do {
      this.again = false;
      for (;;) {
        const rows = await this.source.eventsAfter(this.last, this.options.readBatch);
        if (rows.length === 0) break;
        this.last = rows[rows.length - 1].position;
        if (this.calls.size > 0) for (const e of rows) this.pendingCalls.set(callKeyText(e), { sdkAppId: e.sdkAppId, callId: e.callId });
        // Dispatch goes ahead of the sockets' writes, so a subscriber that cannot keep up reaches queueMax.
        if (this.events.size > 0) await this.scheduler.runSteps(this.eventSteps(rows), true);
        await this.dispatchCalls();
        if (rows.length < this.options.readBatch || this.stopped) break;
      }
      await this.dispatchCalls(); // calls left over from a failed read
    } while (this.again && !this.stopped);
  }

  /** Each event matched against the groups that could match it, then rendered once per matching group. */
  private *eventSteps(rows: readonly CallEventRecord[]): Generator<void> {
    for (const e of rows) {
      for (const group of this.events.matchingGroups(e)) {
        group.deliver(e, e.position);
        yield;
      }
      yield;
    }
  }

  private async dispatchCalls(): Promise<void> {
    if (this.calls.size === 0) this.pendingCalls.clear();
    if (this.pendingCalls.size === 0) return;
    const calls = await this.source.callsWithParticipants([...this.pendingCalls.values()]); // on failure they stay pending
    this.pendingCalls.clear();
    calls.sort((a, b) => (BigInt(a.lastPosition) < BigInt(b.lastPosition) ? -1 : 1));
    await this.scheduler.runSteps(callUpdateSteps(calls, this.calls, () => ++this.clock), true);
  }
}
