import type { FoldEvent } from './fold-call';
import type { CallEventType, CallResult, CallType, ParticipantOutcome } from './vocabulary';

/** What each event says of the participant who sent it (v4 member actions like their v1 twins, docs/trtc-callbacks.md, section 5). */
const OUTCOME_OF: Partial<Record<CallEventType, ParticipantOutcome>> = {
  ACCEPT_CALL: 'ACCEPTED',
  CALL_ACCEPTED: 'ACCEPTED',
  JOIN_IN_GROUP_CALL: 'JOINED',
  IGNORE_CALL: 'IGNORED',
  NOT_ANSWER_CALL: 'NO_ANSWER',
  CALL_MISSED: 'NO_ANSWER',
  REJECT_CALL: 'REJECTED',
  CALL_REJECTED: 'REJECTED',
  CALL_BUSY: 'BUSY',
  CANCEL_CALL: 'CANCELED',
  CALL_CANCELED: 'CANCELED',
  CALL_FAILED: 'FAILED',
  CALL_END: 'ENDED',
  CALL_INTERRUPTED: 'INTERRUPTED',
  MEMBER_ACCEPTED: 'ACCEPTED',
  MEMBER_JOINED: 'JOINED',
  MEMBER_REJECTED: 'REJECTED',
  MEMBER_NOT_ANSWERED: 'NO_ANSWER',
  MEMBER_CANCELED: 'CANCELED',
  MEMBER_HUNG_UP: 'ENDED',
  MEMBER_OFFLINE: 'INTERRUPTED',
};

export const ANSWER_EVENTS: ReadonlySet<CallEventType> = new Set(['ACCEPT_CALL', 'CALL_ACCEPTED', 'JOIN_IN_GROUP_CALL', 'MEMBER_ACCEPTED', 'MEMBER_JOINED']);
/** Outcomes of someone still in the call (or still being invited). */
export const LIVE_OUTCOMES: ReadonlySet<ParticipantOutcome> = new Set(['INVITED', 'ACCEPTED', 'JOINED']);

/** A participant while the fold walks the events. */
export interface ParticipantDraft {
  userId: string;
  outcome: ParticipantOutcome;
  platform: string | null;
  invitedAt: number;
  answeredAt: number | null;
  leftAt: number | null;
}

/** Each user's part in the call, from their events in fold order: the latest event sets the outcome, an invitation never undoes an answer. */
export function foldParticipants(sorted: readonly FoldEvent[]): Map<string, ParticipantDraft> {
  const byUser = new Map<string, ParticipantDraft>();
  for (const e of sorted) {
    if (e.userId === null) continue;
    let p = byUser.get(e.userId);
    if (p === undefined) {
      // A user first seen in a v4 call record (sent after the call) was invited when the call started.
      const invitedAt = e.type === 'CALL_RECORD' ? (e.startCallTs ?? e.eventTime) : e.eventTime;
      p = { userId: e.userId, outcome: 'INVITED', platform: null, invitedAt, answeredAt: null, leftAt: null };
      byUser.set(e.userId, p);
    }
    p.platform = e.platform ?? p.platform;
    const outcome = OUTCOME_OF[e.type];
    if (outcome === undefined) continue;
    p.outcome = outcome;
    if (ANSWER_EVENTS.has(e.type)) {
      p.answeredAt ??= e.eventTime;
      p.leftAt = null;
    } else {
      p.leftAt = LIVE_OUTCOMES.has(outcome) ? null : e.eventTime;
    }
  }
  return byUser;
}

/** What an ended call leaves a participant who had not left yet. */
export function finalOutcome(p: ParticipantDraft, result: CallResult, callType: CallType | null): ParticipantOutcome {
  if (p.outcome !== 'INVITED') return result === 'INTERRUPT' ? 'INTERRUPTED' : 'ENDED';
  switch (result) {
    case 'REJECT':
      return 'REJECTED';
    case 'CALL_BUSY':
      return 'BUSY';
    case 'CANCEL':
      return 'CANCELED';
    case 'FAILED':
      return 'FAILED';
    case 'NORMAL_END':
      return callType === 'GROUP' ? 'NO_ANSWER' : 'ENDED';
    default:
      return 'NO_ANSWER';
  }
}
