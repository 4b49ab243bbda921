import { createClient, type Client, type ExecutionResult } from 'graphql-ws';
import { BOARD_SUBSCRIPTION, FEED_SUBSCRIPTION } from './api';
import { backoffMs, closeAction, type CloseAction } from './close-codes';
import type { BoardCall, FeedEvent, Filters } from './types';

export type Tone = 'ok' | 'warn' | 'error';

/** What a live connection reports to the page. */
export interface LiveHandlers {
  /** Where the feed resumes: read at every (re)subscribe. */
  resumeCursor(): string | null;
  event(event: FeedEvent): void;
  call(call: BoardCall): void;
  /** Acknowledged by the server; the subscriptions follow at once. */
  connected(): void;
  status(text: string, tone: Tone): void;
  /** Given up: retrying cannot help (a refused key, a refused request). */
  stopped(message: string): void;
  /** The feed's cursor expired (events after it were deleted by retention): the connection has stopped; read the feed again. */
  expired(message: string): void;
}

/** GraphQL error codes of a subscription that no retry can fix. */
const FINAL_CODES = new Set(['BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED', 'FORBIDDEN', 'UNAUTHENTICATED']);

type GraphQLErrors = readonly { readonly message?: string; readonly extensions?: { readonly code?: unknown } }[];

/** GraphQL errors saying the feed's `after` cannot be resumed from. */
const cursorExpired = (err: unknown): boolean => Array.isArray(err) && (err as GraphQLErrors).some((e) => e.extensions?.code === 'CURSOR_EXPIRED');

function actionFor(err: unknown): CloseAction {
  if (Array.isArray(err)) {
    const errors = err as GraphQLErrors;
    const message = errors.map((e) => e.message ?? 'error').join('; ');
    return errors.some((e) => FINAL_CODES.has(String(e.extensions?.code))) ? { retry: false, message } : { retry: true, message };
  }
  if (typeof err === 'object' && err !== null && 'code' in err && 'reason' in err) {
    const close = err as { code: unknown; reason: unknown };
    return closeAction(Number(close.code), String(close.reason));
  }
  if (err === null) return { retry: true, message: 'the server ended the subscription' };
  return closeAction(null);
}

/**
 * The feed (`callEventAdded`) and the board (`callUpdated`) on one graphql-ws socket. graphql-ws's own
 * retry would send the first subscribe payload again, with its old `after`; so retries are off and,
 * after a close, a new client subscribes again from the last cursor handled (docs/api.md, the resume pattern).
 */
export class LiveConnection {
  private generation = 0;
  private client: Client | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private acknowledged = false;

  constructor(
    private readonly url: string,
    private readonly key: string,
    private readonly filters: Filters,
    private readonly on: LiveHandlers,
  ) {}

  /** Acknowledged by the server and not closed since. */
  get connected(): boolean {
    return this.acknowledged;
  }

  start(): void {
    this.open();
  }

  stop(): void {
    this.acknowledged = false;
    this.generation++;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    void this.client?.dispose();
    this.client = null;
  }

  private open(): void {
    const generation = ++this.generation;
    const current = () => generation === this.generation;
    this.client = createClient({
      url: this.url,
      connectionParams: { authorization: `Bearer ${this.key}` },
      lazy: true,
      retryAttempts: 0,
      on: {
        connected: () => {
          if (!current()) return;
          this.acknowledged = true;
          this.attempt = 0;
          this.on.status('Live', 'ok');
          this.on.connected();
        },
      },
    });
    const sink = <T>(handle: (data: T) => void) => ({
      next: (result: ExecutionResult<T>) => {
        if (!current()) return;
        if (result.errors?.length) this.on.status(result.errors.map((e) => e.message).join('; '), 'warn');
        if (result.data) handle(result.data);
      },
      error: (err: unknown) => this.fail(generation, err),
      complete: () => this.fail(generation, null),
    });
    const feed = { query: FEED_SUBSCRIPTION, variables: { filter: this.filters, after: this.on.resumeCursor() } };
    this.client.subscribe<{ callEventAdded: FeedEvent }>(feed, sink((data) => this.on.event(data.callEventAdded)));
    const board = { query: BOARD_SUBSCRIPTION, variables: { filter: this.filters } };
    this.client.subscribe<{ callUpdated: BoardCall }>(board, sink((data) => this.on.call(data.callUpdated)));
  }

  /** Both subscriptions end with the socket: the first report decides, the second is ignored. */
  private fail(generation: number, err: unknown): void {
    if (generation !== this.generation) return;
    this.stop();
    if (cursorExpired(err)) return this.on.expired((err as GraphQLErrors).map((e) => e.message ?? 'error').join('; '));
    const action = actionFor(err);
    if (!action.retry) return this.on.stopped(action.message);
    const delay = backoffMs(++this.attempt);
    this.on.status(`Reconnecting in ${Math.ceil(delay / 1000)} s: ${action.message}.`, 'warn');
    this.timer = setTimeout(() => this.open(), delay);
  }
}
