import { createHash } from 'node:crypto';

/** GRAPHQL_MAX_CONCURRENCY_PER_KEY's default, for callers that pass no limit. */
export const DEFAULT_MAX_CONCURRENCY_PER_KEY = 4;

/** The API key of an `Authorization: Bearer <key>` header, or null for anything else (refused later as 401). */
export function bearerKey(authorization: unknown): string | null {
  if (typeof authorization !== 'string') return null;
  return /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1] ?? null;
}

/**
 * Operations in flight per API key on this replica (docs/design.md, principle 10: one client cannot take
 * every connection and the event loop); HTTP requests and WebSocket queries share one instance per
 * process. Counters are keyed by the key's SHA-256, so no secret is kept in memory longer than its
 * request, and removed at zero, so memory follows the keys in use.
 */
export class InFlightPerKey {
  private readonly counts = new Map<string, number>();

  constructor(readonly max: number) {}

  /** A release function (call it once, when the operation ends), or null when the key is at its limit. */
  acquire(key: string): (() => void) | null {
    const id = createHash('sha256').update(key).digest('base64url');
    const count = this.counts.get(id) ?? 0;
    if (count >= this.max) return null;
    this.counts.set(id, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.counts.get(id) ?? 1) - 1;
      if (left > 0) this.counts.set(id, left);
      else this.counts.delete(id);
    };
  }

  /** The refusal past the limit, the same over HTTP (429) and WebSocket (an `error` message). */
  get refusal(): string {
    return `concurrency: expected at most ${this.max} GraphQL requests in flight per API key on this server, got one more; retry after 1 s`;
  }

  /** Keys with operations in flight (for tests and metrics). */
  get keys(): number {
    return this.counts.size;
  }
}
