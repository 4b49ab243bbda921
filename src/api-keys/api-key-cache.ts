import type { AppScope } from '../domain/app-scope';
import { hashApiKey } from './api-key.repository';

/** What the cache reads through (ApiKeyRepository in production). */
export interface KeyLookup {
  authenticateHash(hash: string): Promise<AppScope | null>;
}

/**
 * The scopes of active keys, kept for `ttlMs` so a request costs no round trip for its key. A
 * revocation is announced on `API_KEYS_CHANNEL` and `evict`s the key in every replica at once; the
 * TTL bounds what a missed notification (or a revocation made straight in SQL) can leave behind, and
 * `clear` runs whenever the listening connection comes back. Unknown keys are never cached, so a new
 * key works at once. `ttlMs` 0 turns the cache off.
 */
export class ApiKeyCache {
  private readonly entries = new Map<string, { scope: AppScope; until: number }>();
  /** Bumped by every evict and clear: a lookup that started before one must not refill the cache. */
  private generation = 0;

  constructor(
    private readonly lookup: KeyLookup,
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The scope of an active key, or null. */
  async authenticate(key: string): Promise<AppScope | null> {
    const hash = hashApiKey(key);
    const hit = this.entries.get(hash);
    if (hit && hit.until > this.clock()) return hit.scope;
    if (hit) this.entries.delete(hash);
    const generation = this.generation;
    const scope = await this.lookup.authenticateHash(hash);
    if (scope !== null && this.ttlMs > 0 && generation === this.generation) {
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(hash, { scope, until: this.clock() + this.ttlMs });
    }
    return scope;
  }

  /** Forgets one key (by its hash, as announced on the channel). */
  evict(hash: string | undefined): void {
    this.generation++;
    if (hash === undefined) this.entries.clear();
    else this.entries.delete(hash);
  }

  /** Forgets every key (notifications may have been missed). */
  clear(): void {
    this.generation++;
    this.entries.clear();
  }

  /** Keys held, for tests and metrics. */
  get size(): number {
    return this.entries.size;
  }
}
