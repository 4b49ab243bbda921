import type { BoardCall, FeedEvent, Filters, StatsRow } from './types';

const EVENT_FIELDS = 'cursor sdkAppId callId event userId role mediaType eventTime';
const CALL_FIELDS = 'id sdkAppId callId status mediaType callerId startedAt acceptedAt participants { userId outcome }';

/** The subscriptions, over graphql-ws. */
export const FEED_SUBSCRIPTION = `subscription Feed($filter: CallEventFilter, $after: String) { callEventAdded(filter: $filter, after: $after) { ${EVENT_FIELDS} } }`;
export const BOARD_SUBSCRIPTION = `subscription Board($filter: CallFilter) { callUpdated(filter: $filter) { ${CALL_FIELDS} } }`;

/** Why a request failed, and whether trying again later can help. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly kind: 'auth' | 'retry' | 'fatal',
  ) {
    super(message);
  }
}

interface Reply<T> {
  readonly data?: T | null;
  readonly errors?: readonly { readonly message: string; readonly extensions?: { readonly code?: string } }[];
}

/** One GraphQL operation over HTTP (POST, JSON) to this server's `/graphql`. */
export async function request<T>(key: string, query: string, variables: Record<string, unknown>): Promise<T> {
  let res: Response;
  try {
    res = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError('the server cannot be reached', 'retry');
  }
  if (res.status === 429 || res.status >= 500) throw new ApiError(`the server is busy (HTTP ${res.status})`, 'retry');
  const body = (await res.json().catch(() => ({}))) as Reply<T>;
  const error = body.errors?.[0];
  if (res.status === 401 || error?.extensions?.code === 'UNAUTHENTICATED') throw new ApiError('The API key was refused (unknown or revoked). Enter a valid key.', 'auth');
  if (error || !body.data) throw new ApiError(error?.message ?? `unexpected reply (HTTP ${res.status})`, 'fatal');
  return body.data;
}

/** The last `n` matching events, oldest first (the feed's history before it goes live). */
export async function recentEvents(key: string, filters: Filters, n: number): Promise<FeedEvent[]> {
  const query = `query Recent($filter: CallEventFilter, $n: Int) { callEvents(filter: $filter, last: $n) { edges { node { ${EVENT_FIELDS} } } } }`;
  const data = await request<{ callEvents: { edges: { node: FeedEvent }[] } }>(key, query, { filter: filters, n });
  return data.callEvents.edges.map((e) => e.node);
}

/** Calls ringing or ongoing now (the board's snapshot). */
export async function openCalls(key: string, filters: Filters): Promise<BoardCall[]> {
  const query = `query Open($filter: CallFilter) { calls(filter: $filter, first: 200) { edges { node { ${CALL_FIELDS} } } } }`;
  const data = await request<{ calls: { edges: { node: BoardCall }[] } }>(key, query, { filter: { ...filters, status: ['RINGING', 'ONGOING'] } });
  return data.calls.edges.map((e) => e.node);
}

/** Calls per hour since `from`, bucketed in `timeZone`. */
export async function hourlyStats(key: string, filters: Filters, from: Date, timeZone: string): Promise<StatsRow[]> {
  const query = `query Today($filter: CallFilter, $tz: String) { callStats(filter: $filter, interval: HOUR, timeZone: $tz) { bucket calls answered answerRate } }`;
  const data = await request<{ callStats: StatsRow[] }>(key, query, { filter: { ...filters, startedAt: { from: from.toISOString() } }, tz: timeZone });
  return data.callStats;
}
