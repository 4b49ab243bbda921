import type {
  CallEventType,
  CallResult,
  CallStatus,
  CallType,
  MediaType,
  ParticipantOutcome,
  Role,
} from './vocabulary';

/** Half-open time range `[from, to)`; either end may be open. */
export interface TimeRange {
  readonly from?: Date | null;
  readonly to?: Date | null;
}

export interface CallFilter {
  readonly sdkAppId?: string | null;
  readonly callId?: string | null;
  readonly roomId?: string | null;
  readonly userId?: string | null;
  readonly role?: Role | null;
  readonly mediaType?: MediaType | null;
  readonly callType?: CallType | null;
  readonly status?: readonly CallStatus[] | null;
  readonly result?: readonly CallResult[] | null;
  readonly startedAt?: TimeRange | null;
}

export interface ParticipantFilter {
  readonly sdkAppId?: string | null;
  readonly userId?: string | null;
  readonly role?: Role | null;
  readonly mediaType?: MediaType | null;
  readonly callType?: CallType | null;
  readonly outcome?: readonly ParticipantOutcome[] | null;
  readonly startedAt?: TimeRange | null;
}

export interface CallEventFilter {
  readonly sdkAppId?: string | null;
  readonly callId?: string | null;
  readonly userId?: string | null;
  readonly role?: Role | null;
  readonly mediaType?: MediaType | null;
  readonly callType?: CallType | null;
  readonly events?: readonly CallEventType[] | null;
  readonly eventTime?: TimeRange | null;
}
