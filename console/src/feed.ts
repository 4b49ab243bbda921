import type { FeedEvent } from './types';

/**
 * The live feed: newest first, at most `max` rows, each event once. Cursors already handled are
 * remembered (more of them than rows shown) so an event sent again after a reconnect is skipped
 * (docs/api.md: the event in flight when a slow consumer is cut may come again).
 */
export class Feed {
  private readonly seen = new Set<string>();
  private readonly seenOrder: string[] = [];
  private rowsNewestFirst: FeedEvent[] = [];
  private last: string | null = null;

  constructor(
    readonly max: number,
    private readonly remember = max * 10,
  ) {}

  /** The cursor of the last event handled: where a subscription resumes (`after`). */
  get lastCursor(): string | null {
    return this.last;
  }

  get rows(): readonly FeedEvent[] {
    return this.rowsNewestFirst;
  }

  /** Whether the event at this cursor was handled (and is remembered). */
  has(cursor: string): boolean {
    return this.seen.has(cursor);
  }

  /** Adds an event (events come in commit order); false when it was already handled. */
  add(event: FeedEvent): boolean {
    if (this.seen.has(event.cursor)) return false;
    this.seen.add(event.cursor);
    this.seenOrder.push(event.cursor);
    if (this.seenOrder.length > this.remember) this.seen.delete(this.seenOrder.shift()!);
    this.last = event.cursor;
    this.rowsNewestFirst = [event, ...this.rowsNewestFirst].slice(0, this.max);
    return true;
  }

  clear(): void {
    this.seen.clear();
    this.seenOrder.length = 0;
    this.rowsNewestFirst = [];
    this.last = null;
  }
}
