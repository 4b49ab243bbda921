import { ApiError, hourlyStats, openCalls, recentEvents } from './api';
import { Board } from './board';
import { hourly, startOfDay, type HourPoint } from './chart';
import { backoffMs } from './close-codes';
import { Feed } from './feed';
import { LiveConnection, type Tone } from './live';
import type { BoardCall, FeedEvent, Filters } from './types';

/** What a session draws on. */
export interface SessionView {
  eventAdded(event: FeedEvent): void;
  feedCleared(): void;
  boardChanged(calls: readonly BoardCall[]): void;
  statsChanged(points: readonly HourPoint[]): void;
  status(text: string, tone: Tone): void;
  /** The key was refused or the request cannot succeed: the session has stopped. */
  stopped(message: string): void;
}

/** Rows the feed keeps. */
export const FEED_MAX = 200;
/** The board's snapshot and the chart are read again this often (heals anything the stream missed). */
const REFRESH_MS = 30_000;
/** Time for the subscriptions to be registered before the board's snapshot is read. */
const SNAPSHOT_DELAY_MS = 300;
/** The chart is read again at most this often while calls change. */
const STATS_THROTTLE_MS = 1000;

/**
 * One key and one set of filters: the feed's history (`callEvents`), then the live subscriptions from
 * its last cursor, the board's snapshot at every (re)connect, and the chart.
 */
export class Session {
  readonly feed = new Feed(FEED_MAX);
  readonly board = new Board();
  private live: LiveConnection | null = null;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private statsPending = false;
  private ended = false;
  /** Feed cursors refused as expired since the last live event. */
  private expiries = 0;

  constructor(
    private readonly key: string,
    private readonly filters: Filters,
    private readonly view: SessionView,
    private readonly wsUrl: string,
  ) {}

  async start(): Promise<void> {
    this.view.status('Loading recent events…', 'warn');
    if (!(await this.loadHistory())) return;
    this.goLive();
    this.every(REFRESH_MS, () => {
      if (!this.live?.connected) return; // a reconnect reads both anyway
      void this.resyncBoard();
      void this.refreshStats();
    });
  }

  /** The feed from the last FEED_MAX matching events; false when the session ended meanwhile. */
  private async loadHistory(): Promise<boolean> {
    const history = await this.retrying(() => recentEvents(this.key, this.filters, FEED_MAX));
    if (history === null) return false;
    this.feed.clear();
    this.view.feedCleared();
    for (const event of history) if (this.feed.add(event)) this.view.eventAdded(event);
    return true;
  }

  private goLive(): void {
    this.live = new LiveConnection(this.wsUrl, this.key, this.filters, {
      resumeCursor: () => this.feed.lastCursor,
      event: (event) => {
        this.expiries = 0;
        if (this.feed.add(event)) this.view.eventAdded(event);
      },
      call: (call) => this.callUpdated(call),
      connected: () => {
        const unanchored = this.feed.lastCursor === null; // the feed subscribes without `after`
        this.later(() => {
          void this.resyncBoard();
          void this.refreshStats();
          if (unanchored) void this.anchor();
        }, SNAPSHOT_DELAY_MS);
      },
      status: (text, tone) => this.view.status(text, tone),
      stopped: (message) => this.stop(message),
      expired: () => void this.reload(),
    });
    this.live.start();
  }

  /**
   * With nothing stored to resume from, the feed subscribes at the live edge, at a moment the page
   * cannot see: what was stored before the subscription took effect is found by reading again, and
   * the feed then restarts from the last of it (this happens once: from then on there is a cursor).
   */
  private async anchor(): Promise<void> {
    const stored = await this.once(() => recentEvents(this.key, this.filters, FEED_MAX));
    if (stored === null || stored.every((e) => this.feed.has(e.cursor))) return;
    this.live?.stop();
    if (await this.loadHistory()) this.goLive();
  }

  /**
   * The feed's cursor expired: retention deleted events after it while the page was away, so they
   * cannot be replayed. The feed is read again from the newest stored events, whose cursors retention
   * has not passed, and goes live from the last of them.
   */
  private async reload(): Promise<void> {
    this.live?.stop();
    this.view.status('Events after the last one shown were deleted by retention while this page was away: reading the feed again…', 'warn');
    // Should the newest stored event's cursor be refused too, the next reads wait as reconnects do.
    const attempt = this.expiries++;
    if (attempt > 0) await new Promise((resolve) => this.later(() => resolve(undefined), backoffMs(attempt)));
    if (!this.ended && (await this.loadHistory())) this.goLive();
  }

  /** Ends everything; with a message, tells the view why. */
  stop(message?: string): void {
    if (this.ended) return;
    this.ended = true;
    this.live?.stop();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (message !== undefined) this.view.stopped(message);
  }

  private callUpdated(call: BoardCall): void {
    this.board.update(call);
    this.view.boardChanged(this.board.list());
    if (this.statsPending) return;
    this.statsPending = true;
    this.later(() => {
      this.statsPending = false;
      void this.refreshStats();
    }, STATS_THROTTLE_MS);
  }

  private async resyncBoard(): Promise<void> {
    this.board.beginResync();
    const calls = await this.once(() => openCalls(this.key, this.filters));
    if (calls === null) return;
    this.board.resync(calls);
    this.view.boardChanged(this.board.list());
  }

  private async refreshStats(): Promise<void> {
    const now = new Date();
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const rows = await this.once(() => hourlyStats(this.key, this.filters, startOfDay(now), zone));
    if (rows !== null) this.view.statsChanged(hourly(rows));
  }

  /** One try; a failure that a later refresh can heal is shown and left for the next refresh. */
  private async once<T>(read: () => Promise<T>): Promise<T | null> {
    try {
      const value = await read();
      return this.ended ? null : value;
    } catch (err) {
      this.failed(err);
      return null;
    }
  }

  /** Tries until it works, backing off, or until retrying cannot help. */
  private async retrying<T>(read: () => Promise<T>): Promise<T | null> {
    for (let attempt = 1; !this.ended; attempt++) {
      try {
        const value = await read();
        return this.ended ? null : value;
      } catch (err) {
        if (!(err instanceof ApiError) || err.kind !== 'retry') {
          this.failed(err);
          return null;
        }
        const delay = backoffMs(attempt);
        this.view.status(`Retrying in ${Math.ceil(delay / 1000)} s: ${err.message}.`, 'warn');
        await new Promise((resolve) => this.later(() => resolve(undefined), delay));
      }
    }
    return null;
  }

  private failed(err: unknown): void {
    if (this.ended) return;
    if (err instanceof ApiError && err.kind === 'retry') return this.view.status(`Could not refresh: ${err.message}; trying again shortly.`, 'warn');
    this.stop(err instanceof Error ? err.message : String(err));
  }

  private later(run: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }

  private every(ms: number, run: () => void): void {
    this.later(() => {
      run();
      this.every(ms, run);
    }, ms);
  }
}
