/** The shapes the console reads from the public GraphQL API (schema/schema.graphql). */

export type MediaType = 'AUDIO' | 'VIDEO';

/** The filters an admin sets; an absent field matches everything. */
export interface Filters {
  readonly sdkAppId?: string;
  readonly userId?: string;
  readonly mediaType?: MediaType;
}

/** One `CallEvent`, as the feed shows it. */
export interface FeedEvent {
  readonly cursor: string;
  readonly sdkAppId: string;
  readonly callId: string;
  readonly event: string;
  readonly userId: string | null;
  readonly role: string | null;
  readonly mediaType: MediaType | null;
  readonly eventTime: string;
}

/** One `Call`, as the board shows it. */
export interface BoardCall {
  readonly id: string;
  readonly sdkAppId: string;
  readonly callId: string;
  readonly status: 'RINGING' | 'ONGOING' | 'ENDED';
  readonly mediaType: MediaType | null;
  readonly callerId: string | null;
  readonly startedAt: string | null;
  readonly acceptedAt: string | null;
  readonly participants: readonly { readonly userId: string; readonly outcome: string }[];
}

/** One `CallStatsRow` of `callStats(interval: HOUR)`. */
export interface StatsRow {
  readonly bucket: string;
  readonly calls: number;
  readonly answered: number;
  readonly answerRate: number | null;
}
