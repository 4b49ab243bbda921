import type { AppScope } from '../domain/app-scope';
import { ApiKeyCache, type KeyLookup } from './api-key-cache';
import { hashApiKey, scopeOf } from './api-key.repository';

/** A key table in memory that counts lookups; `hold` keeps the next lookup pending until released. */
class FakeKeys implements KeyLookup {
  readonly active = new Map<string, AppScope>();
  lookups = 0;
  private held: (() => void) | null = null;
  private holdNext = false;

  add(key: string, apps: string[] | null): void {
    this.active.set(hashApiKey(key), scopeOf(apps));
  }
  hold(): void {
    this.holdNext = true;
  }
  release(): void {
    this.held?.();
  }
  async authenticateHash(hash: string): Promise<AppScope | null> {
    this.lookups++;
    const answer = this.active.get(hash) ?? null;
    if (this.holdNext) {
      this.holdNext = false;
      await new Promise<void>((resolve) => (this.held = resolve));
    }
    return answer;
  }
}

const setup = (ttlMs = 60_000, maxEntries = 100) => {
  let now = 1_000;
  const keys = new FakeKeys();
  const cache = new ApiKeyCache(keys, ttlMs, maxEntries, () => now);
  return { keys, cache, advance: (ms: number) => (now += ms) };
};

describe('ApiKeyCache', () => {
  it('asks the database once per key within the TTL, and again after it', async () => {
    const { keys, cache, advance } = setup();
    keys.add('k1', ['1400000001']);
    expect(await cache.authenticate('k1')).toEqual(scopeOf(['1400000001']));
    expect(await cache.authenticate('k1')).toEqual(scopeOf(['1400000001']));
    expect(keys.lookups).toBe(1);
    advance(60_000);
    await cache.authenticate('k1');
    expect(keys.lookups).toBe(2);
  });

  it('never caches an unknown key, so a key created later works at once', async () => {
    const { keys, cache } = setup();
    expect(await cache.authenticate('k2')).toBeNull();
    keys.add('k2', null);
    expect(await cache.authenticate('k2')).toEqual(scopeOf(null));
    expect(keys.lookups).toBe(2);
  });

  it('forgets a key evicted by its hash, and every key on clear or an evict without payload', async () => {
    const { keys, cache } = setup();
    keys.add('a', null);
    keys.add('b', null);
    await cache.authenticate('a');
    await cache.authenticate('b');
    keys.active.delete(hashApiKey('a'));
    cache.evict(hashApiKey('a'));
    expect(await cache.authenticate('a')).toBeNull();
    expect(await cache.authenticate('b')).toEqual(scopeOf(null));
    expect(cache.size).toBe(1);
    cache.evict(undefined);
    expect(cache.size).toBe(0);
    await cache.authenticate('b');
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it('does not keep a scope read before a revocation that arrived while the read was in flight', async () => {
    const { keys, cache } = setup();
    keys.add('k', ['1400000001']);
    keys.hold();
    const pending = cache.authenticate('k');
    keys.active.delete(hashApiKey('k'));
    cache.evict(hashApiKey('k')); // the revocation's notification, before the stale answer lands
    keys.release();
    expect(await pending).toEqual(scopeOf(['1400000001'])); // that one request saw the old state
    expect(cache.size).toBe(0);
    expect(await cache.authenticate('k')).toBeNull();
  });

  it('with a TTL of 0 asks the database every time', async () => {
    const { keys, cache } = setup(0);
    keys.add('k', null);
    await cache.authenticate('k');
    await cache.authenticate('k');
    expect(keys.lookups).toBe(2);
    expect(cache.size).toBe(0);
  });

  it('holds at most maxEntries keys, dropping the oldest', async () => {
    const { keys, cache } = setup(60_000, 2);
    for (const k of ['x', 'y', 'z']) keys.add(k, null);
    for (const k of ['x', 'y', 'z']) await cache.authenticate(k);
    expect(cache.size).toBe(2);
    await cache.authenticate('x');
    expect(keys.lookups).toBe(4);
  });
});
