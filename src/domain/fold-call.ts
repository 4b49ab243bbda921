import { ANSWER_EVENTS, finalOutcome, foldParticipants, LIVE_OUTCOMES } from './fold-participants';
import { ENDING_RESULT, RANK, RECORD_EVENTS, START_EVENTS, STATUS_EVENTS } from './fold-rules';
import type {
  CallEventType,
  CallResult,
  CallStatus,
  CallType,
  MediaType,
  ParticipantOutcome,
  Role,
} from './vocabulary';

/** One stored event as the fold sees it. Times are Unix seconds; `null` means unknown. */
export interface FoldEvent {
  readonly userId: string | null;
  readonly role: Role | null;
  readonly type: CallEventType;
  readonly rawEvent: string;
  readonly callType: CallType | null;
  readonly mediaType: MediaType | null;
  readonly roomId: string | null;
  readonly callResult: CallResult | null;
  readonly eventTime: number;
  readonly startCallTs: number | null;
  readonly acceptTs: number | null;
  readonly endTs: number | null;
  readonly platform: string | null;
  /** Stable identity of the event's content; the last tiebreak of the order. */
  readonly dedupeKey: string;
}

export interface FoldedParticipant {
  readonly userId: string;
  readonly role: Role;
  readonly outcome: ParticipantOutcome;
  readonly platform: string | null;
  readonly invitedAt: number | null;
  readonly answeredAt: number | null;
  readonly leftAt: number | null;
}

export interface FoldedCall {
  readonly status: CallStatus;
  readonly result: CallResult | null;
  readonly callerId: string | null;
  readonly callType: CallType | null;
  readonly mediaType: MediaType | null;
  readonly roomId: string | null;
  readonly startedAt: number | null;
  readonly acceptedAt: number | null;
  readonly endedAt: number | null;
  readonly ringSeconds: number | null;
  readonly talkSeconds: number | null;
  readonly lastEventAt: number;
  readonly participants: readonly FoldedParticipant[];
}

const cmp = (a: string | null, b: string | null): number => ((a ?? '') < (b ?? '') ? -1 : (a ?? '') > (b ?? '') ? 1 : 0);

/** The total order the fold applies events in (see {@link RANK}). */
export function compareEvents(a: FoldEvent, b: FoldEvent): number {
  return (
    a.eventTime - b.eventTime ||
    RANK[a.type] - RANK[b.type] ||
    cmp(a.userId, b.userId) ||
    cmp(a.rawEvent, b.rawEvent) ||
    cmp(a.dedupeKey, b.dedupeKey)
  );
}

const positive = (n: number | null): n is number => n !== null && n > 0;
const firstOf = <T>(events: readonly FoldEvent[], pick: (e: FoldEvent) => T | null): T | null => {
  for (const e of events) {
    const v = pick(e);
    if (v !== null) return v;
  }
  return null;
};

function inferResult(sorted: readonly FoldEvent[], callType: CallType | null, answered: boolean): CallResult {
  const status = sorted.filter((e) => STATUS_EVENTS.has(e.type) && e.callResult !== null).at(-1);
  if (status) return status.callResult as CallResult;
  const stated = sorted.filter((e) => RECORD_EVENTS.has(e.type) && e.callResult !== null).at(-1);
  if (stated) return stated.callResult as CallResult;
  if (callType === 'GROUP' && answered) return 'NORMAL_END';
  return firstOf(sorted, (e) => ENDING_RESULT[e.type] ?? null) ?? 'UNKNOWN';
}

/**
 * Folds every stored event of one call into its state. Pure, and independent of the order of
 * `events`: the same set always gives the same call (events are applied in {@link compareEvents}
 * order). Requires at least one event.
 */
export function foldCall(events: readonly FoldEvent[]): FoldedCall {
  if (events.length === 0) throw new RangeError('foldCall: expected at least one event, got none');
  const sorted = [...events].sort(compareEvents);
  const callType = firstOf(sorted, (e) => e.callType);
  const drafts = foldParticipants(sorted);
  // Tencent's v4 record names the caller (Caller_Account); then v1's start_call; then whoever was
  // sent as the caller (v1 Role, or the one user "Calling" when a v4 call started; docs/trtc-callbacks.md, section 5).
  const callerId =
    firstOf(sorted, (e) => (e.type === 'CALL_RECORD' && e.role === 'CALLER' ? e.userId : null)) ??
    firstOf(sorted, (e) => (e.type === 'START_CALL' ? e.userId : null)) ??
    firstOf(sorted, (e) => (e.role === 'CALLER' ? e.userId : null));

  const records = sorted.filter((e) => RECORD_EVENTS.has(e.type));
  const recordMin = (pick: (e: FoldEvent) => number | null) => {
    // A loop, not Math.min(...ts): a call may hold more records than a spread can pass as arguments.
    let min: number | null = null;
    for (const e of records) {
      const t = pick(e);
      if (positive(t) && (min === null || t < min)) min = t;
    }
    return min;
  };
  const answerEvent = sorted.find((e) => ANSWER_EVENTS.has(e.type));
  const startEvent = sorted.find((e) => START_EVENTS.has(e.type));
  // The start event (v1 start_call, v4 StartCall) comes first and fixes the start; Tencent's record
  // (StartCallTs, v4 StartTime) only fills in when it never arrived. A start that rarely moves keeps pages stable.
  const startedAt = startEvent?.eventTime ?? recordMin((e) => e.startCallTs) ?? sorted[0].eventTime;
  const acceptedAt = recordMin((e) => e.acceptTs) ?? answerEvent?.eventTime ?? null;

  const ended =
    sorted.some((e) => STATUS_EVENTS.has(e.type)) ||
    (callType === 'GROUP'
      ? [...drafts.values()].every((p) => !LIVE_OUTCOMES.has(p.outcome))
      : sorted.some((e) => ENDING_RESULT[e.type] !== undefined));
  const status: CallStatus = ended ? 'ENDED' : acceptedAt !== null ? 'ONGOING' : 'RINGING';
  const result = ended ? inferResult(sorted, callType, acceptedAt !== null) : null;

  let lastEnd: number | null = null;
  for (const e of records) if (positive(e.endTs) && (lastEnd === null || e.endTs > lastEnd)) lastEnd = e.endTs;
  const lastEnding = sorted.filter((e) => ENDING_RESULT[e.type] !== undefined).at(-1);
  const endedAt = !ended
    ? null
    : lastEnd !== null
      ? lastEnd
      : (lastEnding?.eventTime ?? sorted[sorted.length - 1].eventTime);

  const participants = [...drafts.values()].map((draft): FoldedParticipant => {
    // The caller is in an answered call from its start, even with no answer event of their own
    // (v4 sends none for the caller; docs/trtc-callbacks.md, section 5).
    const inCall = draft.userId === callerId && acceptedAt !== null && draft.outcome === 'INVITED';
    const p = inCall ? { ...draft, outcome: 'ACCEPTED' as const, answeredAt: acceptedAt } : draft;
    const closing = ended && LIVE_OUTCOMES.has(p.outcome);
    return {
      userId: p.userId,
      // A call has one caller: everyone else is a callee, whatever an event's Role said.
      role: p.userId === callerId ? 'CALLER' : 'CALLEE',
      outcome: closing ? finalOutcome(p, result as CallResult, callType) : p.outcome,
      platform: p.platform,
      invitedAt: p.invitedAt,
      answeredAt: p.answeredAt,
      leftAt: closing ? endedAt : p.leftAt,
    };
  });
  const roleRank = (r: Role) => (r === 'CALLER' ? 0 : 1);
  participants.sort((a, b) => roleRank(a.role) - roleRank(b.role) || (a.invitedAt ?? 0) - (b.invitedAt ?? 0) || cmp(a.userId, b.userId));

  const ringEnd = acceptedAt ?? endedAt;
  return {
    status,
    result,
    callerId,
    callType,
    mediaType: firstOf(sorted, (e) => e.mediaType),
    roomId: firstOf(sorted, (e) => e.roomId),
    startedAt,
    acceptedAt,
    endedAt,
    ringSeconds: ringEnd === null ? null : Math.max(0, ringEnd - startedAt),
    talkSeconds: !ended ? null : acceptedAt === null || endedAt === null ? 0 : Math.max(0, endedAt - acceptedAt),
    lastEventAt: sorted[sorted.length - 1].eventTime,
    participants,
  };
}
