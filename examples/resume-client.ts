import { createClient, type Client } from 'graphql-ws';

/**
 * Close codes worth a new try: completed (1000), going away (1001), cut (1006), server error (1011,
 * 4500), restarting (1012), try later (1013), slow consumer (4290), no init in time (4408), terminated (4499).
 * Any other (4401, 4403: no or a revoked key) stops.
 */
const RETRY_CODES = new Set([1000, 1001, 1006, 1011, 1012, 1013, 4290, 4408, 4499, 4500]);

export interface ResumeOptions<Event extends { cursor: string }> {
  /** e.g. `ws://localhost:8080/graphql` */
  readonly url: string;
  readonly apiKey: string;
  /** A subscription with an `$after: String` variable, e.g. `callEventAdded(after: $after)`. */
  readonly query: string;
  readonly variables?: Record<string, unknown>;
  /** The cursor of the last event handled before (saved by you), or null for live events only. */
  readonly after: string | null;
  /** Handles one event; once it returns, its cursor is where a reconnect resumes (save it to survive a restart). */
  onEvent(event: Event): void;
  /** The subscription stopped for good: a close code that retrying cannot fix (4401, 4403, ...) or refused GraphQL errors. */
  onStopped?(reason: unknown): void;
  /**
   * The saved cursor expired (`CURSOR_EXPIRED`): events after it are gone (retention deleted some while
   * you were away) or it comes from another database (a restore or a failover). Read your state again
   * (with queries) and return the cursor of the newest event you read, or null for live events only.
   * Without this handler the subscription stops (`onStopped`).
   */
  onCursorExpired?(errors: readonly unknown[]): string | null | Promise<string | null>;
  /** A WebSocket class where there is no global one (Node 20: `import WebSocket from 'ws'`). */
  readonly webSocketImpl?: unknown;
  /** Longest wait between tries, in ms (default 30 s). */
  readonly maxDelayMs?: number;
}

/**
 * Subscribes with resume: every matching event once, in order, across disconnects. graphql-ws never
 * reconnects by itself here (`retryAttempts: 0`): its own retries would send the first `after` again.
 * Each try is a new client that subscribes with `after` = the last cursor handled.
 */
export function resumeSubscription<Event extends { cursor: string }>(o: ResumeOptions<Event>): { stop(): void; last(): string | null } {
  let last = o.after;
  let failures = 0;
  /** Expiries since the last event handled. */
  let expiries = 0;
  let stopped = false;
  let client: Client | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const stop = (reason?: unknown) => {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    dispose(client);
    if (reason !== undefined) o.onStopped?.(reason);
  };

  const connect = () => {
    let ended = false;
    const end = (reason: unknown) => {
      if (ended || stopped) return;
      ended = true;
      dispose(current);
      if (expired(reason) && o.onCursorExpired) {
        // The events after `last` cannot be replayed: the caller re-reads its state and says where to go on.
        // A stored event's cursor does not expire; should the one returned expire too, the next try waits
        // as a failed connection's does.
        const wait = expiries === 0 ? 0 : Math.min(o.maxDelayMs ?? 30_000, 500 * 2 ** (expiries - 1));
        expiries++;
        return void Promise.resolve()
          .then(() => o.onCursorExpired!(reason as unknown[]))
          .then((cursor) => {
            if (stopped) return;
            last = cursor;
            timer = setTimeout(connect, wait);
          }, stop);
      }
      if (!retryable(reason)) return stop(reason);
      const delay = Math.min(o.maxDelayMs ?? 30_000, 500 * 2 ** failures++);
      timer = setTimeout(connect, delay / 2 + Math.random() * (delay / 2));
    };
    const current = createClient({
      url: o.url,
      webSocketImpl: o.webSocketImpl,
      connectionParams: { authorization: `Bearer ${o.apiKey}` },
      lazy: true,
      retryAttempts: 0,
      on: { connected: () => (failures = 0), closed: (event) => end(event) },
    });
    client = current;
    current.subscribe<Record<string, Event>>(
      { query: o.query, variables: { ...o.variables, after: last } },
      {
        next: (result) => {
          if (!result.data) return end(result.errors ?? []);
          const event = Object.values(result.data)[0];
          if (event.cursor === last) return; // a guard: calltrail resumes strictly after `after`
          try {
            o.onEvent(event);
          } catch (err) {
            return stop(err);
          }
          last = event.cursor;
          expiries = 0;
        },
        error: (err) => end(err),
        complete: () => end({ code: 1000, reason: 'completed by the server' }),
      },
    );
  };

  connect();
  return { stop: () => stop(), last: () => last };
}

/** Closes a client for good; graphql-ws's dispose rejects when the socket closed before it connected. */
function dispose(client: Client | null): void {
  Promise.resolve(client?.dispose()).catch(() => undefined);
}

/** GraphQL errors that say the cursor cannot be resumed from. */
function expired(reason: unknown): boolean {
  return Array.isArray(reason) && reason.some((e) => e?.extensions?.code === 'CURSOR_EXPIRED');
}

/** A close event with a code worth a new try (no code: the connection failed), or a GraphQL refusal that is temporary. */
function retryable(reason: unknown): boolean {
  if (Array.isArray(reason)) return reason.some((e) => e?.extensions?.code === 'SERVICE_UNAVAILABLE');
  const code = (reason as { code?: unknown } | null)?.code;
  return typeof code !== 'number' || RETRY_CODES.has(code);
}
