import { callKeyText, type CallKey } from '../domain/call-key';
import type { FoldEvent } from '../domain/fold-call';

/** An event as the fold reads it back from `call_events`, with its call and position. */
export interface StoredFoldEvent extends FoldEvent, CallKey {
  readonly position: string;
}

/** Whether position `p` is above `than`: bigint digits without leading zeros, so the longer is the larger, then the text order. */
export const positionAbove = (p: string, than: string): boolean => p.length > than.length || (p.length === than.length && p > than);

/** What the cache keeps of one call: its events up to a position, and the participant rows last written for it. */
export interface CachedCall {
  readonly events: readonly StoredFoldEvent[];
  /** Every event of the call at or below this position is in `events`; later ones are read from PostgreSQL. */
  readonly upTo: string;
  /** What each participant's row was last written from (its fold and the call's columns it copies), to skip the unchanged ones. */
  readonly participants: ReadonlyMap<string, string>;
}

interface Entry extends CachedCall {
  usedAt: number;
  /** Unix seconds: the earliest event time held. */
  readonly oldest: number;
}

export interface FoldCacheOptions {
  /** Calls with fewer stored events are not kept: reading them back costs little. */
  readonly minEvents: number;
  /** Events kept at most, over all calls; the calls written least recently go first. */
  readonly maxEvents: number;
  /** A call not written for this long is forgotten. */
  readonly idleMs: number;
  /**
   * A call holding an event older than this is read whole: retention (`RETENTION_DAYS`, at least one day)
   * may have deleted some of its events since they were cached, and the fold must not count them.
   */
  readonly maxEventAgeMs: number;
}

/** What a fold cache holds. */
export interface FoldCacheSize {
  readonly calls: number;
  readonly events: number;
}

export const FOLD_CACHE_DEFAULTS: FoldCacheOptions = { minEvents: 64, maxEvents: 50_000, idleMs: 10 * 60_000, maxEventAgeMs: 24 * 3_600_000 };

/**
 * The events of large calls that the ingest path folded last, so that a batch adding a few events to a
 * 1,000-participant call reads back only what it does not hold (docs/architecture.md, "Large calls").
 *
 * It is only ever a shortcut, never the truth: a batch reads every event of a cached call above `upTo`
 * (positions are handed out under the position lock, so an event committed later, by this process or
 * another replica, always has a higher one), and a call whose events were written elsewhere since has its
 * participants all written again. A call whose `calls` row is gone (call retention) is read whole, and so is
 * one holding events retention may have deleted (`maxEventAgeMs`). Entries are set only after the batch committed.
 */
export class FoldCache {
  private readonly calls = new Map<string, Entry>();
  private events = 0;

  constructor(
    private readonly options: FoldCacheOptions = FOLD_CACHE_DEFAULTS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The cached state of a call, or undefined (never cached, evicted, or idle too long). */
  get(key: CallKey): CachedCall | undefined {
    const text = callKeyText(key);
    const entry = this.calls.get(text);
    if (entry === undefined) return undefined;
    const now = this.now();
    if (now - entry.usedAt > this.options.idleMs || now - entry.oldest * 1000 > this.options.maxEventAgeMs) {
      this.delete(text);
      return undefined;
    }
    return entry;
  }

  /** Keeps (or drops, when small) the state of a call as of a committed batch. */
  set(key: CallKey, state: CachedCall): void {
    const text = callKeyText(key);
    const held = this.calls.get(text);
    // Two batches may commit in one order and get here in the other: the later state wins.
    if (held !== undefined && positionAbove(held.upTo, state.upTo)) return;
    this.delete(text, held);
    if (state.events.length < this.options.minEvents || state.events.length > this.options.maxEvents) return;
    let oldest = Number.POSITIVE_INFINITY;
    for (const e of state.events) if (e.eventTime < oldest) oldest = e.eventTime;
    const now = this.now();
    if (now - oldest * 1000 > this.options.maxEventAgeMs) return; // it could not be served (an import of old calls)
    this.calls.set(text, { ...state, usedAt: now, oldest });
    this.events += state.events.length;
    for (const [first, entry] of this.calls) {
      if (this.events <= this.options.maxEvents) break;
      this.delete(first, entry);
    }
  }

  /** Number of calls and events held (for tests and metrics). */
  get size(): FoldCacheSize {
    return { calls: this.calls.size, events: this.events };
  }

  private delete(text: string, entry = this.calls.get(text)): void {
    if (entry === undefined) return;
    this.calls.delete(text);
    this.events -= entry.events.length;
  }
}
