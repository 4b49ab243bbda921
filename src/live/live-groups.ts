import type { AppScope } from '../domain/app-scope';
import { sha256Hex } from '../domain/canonical-json';
import type { Entry, LiveSubscription } from './live-subscription';

/** How one subscription's items become what its transport sends (a GraphQL execution, encoded). */
export interface LiveRenderer<T, R> {
  /**
   * Subscriptions whose renderers have equal keys, and equal scopes and filters, share one rendering of
   * each item: equal keys must mean equal output for every item.
   */
  readonly key: string;
  render(item: T): R | Promise<R>;
}

/** Renders `item` as an entry; `onSettled` runs once an asynchronous rendering is done (or failed). */
export function renderEntry<T, R>(renderer: LiveRenderer<T, R>, item: T, position: string, onSettled: () => void): Entry<R> {
  const entry: Entry<R> = { position, value: undefined };
  try {
    const out = renderer.render(item);
    if (!(out instanceof Promise)) {
      entry.value = out;
      return entry;
    }
    out.then(
      (value) => (entry.value = value),
      (err: unknown) => (entry.error = err ?? new Error('live: rendering failed')),
    ).finally(onSettled);
  } catch (err) {
    entry.error = err ?? new Error('live: rendering failed');
  }
  return entry;
}

/**
 * The subscriptions that share a scope, a filter and a renderer key: each item is matched once and
 * rendered once for all of them (docs/design.md, principle 6), so a thousand consoles watching the
 * same feed cost one execution per event, not a thousand.
 */
export class LiveGroup<T, R, F> {
  readonly members = new Set<LiveSubscription<R>>();
  /** `callUpdated` only: calls the group was sent while they matched, with when (a hub counter). */
  readonly following = new Map<string, number>();

  constructor(
    readonly key: string,
    readonly scope: AppScope,
    readonly filter: F | null | undefined,
    readonly renderer: LiveRenderer<T, R>,
  ) {}

  /** Renders `item` once and offers it to `members` (all by default). */
  deliver(item: T, position: string, members: Iterable<LiveSubscription<R>> = this.members): void {
    const entry = renderEntry(this.renderer, item, position, () => {
      for (const m of this.members) m.notify();
    });
    for (const m of members) m.offer(entry);
  }
}

/** What a kind of item is indexed and matched by. */
export interface GroupMatching<T, F> {
  /** The user or the call a filter is pinned to (only items of that user or call can match), if any. */
  pin(filter: F | null | undefined): { readonly user?: string | null; readonly call?: string | null };
  /** The users and the call of an item. */
  users(item: T): Iterable<string | null>;
  call(item: T): string;
  matches(item: T, filter: F | null | undefined, scope: AppScope): boolean;
}

/**
 * Every group of one kind of subscription, by key, indexed by the user or call their filter pins: an
 * item is matched only against the groups pinned to its users or call and the unpinned ones, so ten
 * thousand consoles each following one user cost a map lookup per event, not ten thousand checks.
 */
export class LiveGroups<T, R, F> {
  private readonly byKey = new Map<string, LiveGroup<T, R, F>>();
  private readonly byUser = new Map<string, Set<LiveGroup<T, R, F>>>();
  private readonly byCall = new Map<string, Set<LiveGroup<T, R, F>>>();
  private readonly unpinned = new Set<LiveGroup<T, R, F>>();

  constructor(private readonly matching: GroupMatching<T, F>) {}

  get size(): number {
    return this.byKey.size;
  }

  /** The group of this scope, filter and renderer (created when new). */
  join(scope: AppScope, filter: F | null | undefined, renderer: LiveRenderer<T, R>): LiveGroup<T, R, F> {
    // A digest: ten thousand groups hold 64 bytes each instead of their selection's text.
    const key = sha256Hex(`${scopeKey(scope)}\n${stableKey(filter)}\n${renderer.key}`);
    let group = this.byKey.get(key);
    if (!group) {
      group = new LiveGroup(key, scope, filter, renderer);
      this.byKey.set(key, group);
      this.bucket(group, true)?.add(group);
    }
    return group;
  }

  /** Forgets `group` once its last member has left. */
  leave(group: LiveGroup<T, R, F>, member: LiveSubscription<R>): void {
    group.members.delete(member);
    if (group.members.size > 0 || this.byKey.get(group.key) !== group) return;
    this.byKey.delete(group.key);
    const bucket = this.bucket(group, false);
    bucket?.delete(group);
    if (bucket?.size === 0 && bucket !== this.unpinned) this.unbucket(group);
  }

  /** The groups whose filter and scope match `item`. */
  matchingGroups(item: T): LiveGroup<T, R, F>[] {
    const out: LiveGroup<T, R, F>[] = [];
    const add = (groups: Iterable<LiveGroup<T, R, F>> | undefined) => {
      if (groups) for (const g of groups) if (this.matching.matches(item, g.filter, g.scope)) out.push(g);
    };
    add(this.unpinned);
    add(this.byCall.get(this.matching.call(item)));
    for (const user of this.matching.users(item)) if (user) add(this.byUser.get(user));
    return out;
  }

  /** Every group that could match `item`: the pinned ones of its users and call, and the unpinned ones. */
  *candidates(item: T): Generator<LiveGroup<T, R, F>> {
    yield* this.unpinned;
    yield* this.byCall.get(this.matching.call(item)) ?? [];
    for (const user of this.matching.users(item)) if (user) yield* this.byUser.get(user) ?? [];
  }

  all(): IterableIterator<LiveGroup<T, R, F>> {
    return this.byKey.values();
  }

  private bucket(group: LiveGroup<T, R, F>, create: boolean): Set<LiveGroup<T, R, F>> | undefined {
    const { user, call } = this.matching.pin(group.filter);
    const [map, value] = user ? [this.byUser, user] : call ? [this.byCall, call] : [null, null];
    if (map === null) return this.unpinned;
    let set = map.get(value!);
    if (!set && create) map.set(value!, (set = new Set()));
    return set;
  }

  private unbucket(group: LiveGroup<T, R, F>): void {
    const { user, call } = this.matching.pin(group.filter);
    if (user) this.byUser.delete(user);
    else if (call) this.byCall.delete(call);
  }
}

const scopeKey = (scope: AppScope): string => (scope.all ? '*' : [...scope.apps].sort().join(','));

/** JSON with sorted keys, absent and null fields left out, dates as ISO text: equal filters, equal keys. */
export function stableKey(value: unknown): string {
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(stableKey).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const fields = Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined && (value as Record<string, unknown>)[k] !== null)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableKey((value as Record<string, unknown>)[k])}`);
    return `{${fields.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
