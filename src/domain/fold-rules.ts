import type { CallEventType, CallResult } from './vocabulary';

/**
 * Lifecycle rank: the order of events that share the same `EventTime` second (docs/trtc-callbacks.md, section 4, says
 * several events can). Invitations come before answers, answers before refusals, refusals before
 * ends, and Tencent's own statement of the result (a v1 status callback, a v4 call record) last.
 * Remaining ties sort by user id, event as sent, then dedupe key, so the order is total and
 * independent of arrival order. v4 types (section 5) rank with their v1 twins.
 */
export const RANK: Record<CallEventType, number> = {
  START_CALL: 0,
  CALL_STARTED: 0,
  RECEIVE_CALL: 1,
  INVITE_USER: 1,
  MEMBER_INVITED: 1,
  ACCEPT_CALL: 2,
  CALL_ACCEPTED: 2,
  JOIN_IN_GROUP_CALL: 2,
  MEMBER_ACCEPTED: 2,
  MEMBER_JOINED: 2,
  IGNORE_CALL: 3,
  NOT_ANSWER_CALL: 4,
  CALL_MISSED: 4,
  REJECT_CALL: 4,
  CALL_REJECTED: 4,
  CALL_BUSY: 4,
  CANCEL_CALL: 4,
  CALL_CANCELED: 4,
  CALL_FAILED: 4,
  MEMBER_REJECTED: 4,
  MEMBER_NOT_ANSWERED: 4,
  MEMBER_CANCELED: 4,
  CALL_END: 5,
  CALL_INTERRUPTED: 5,
  MEMBER_HUNG_UP: 5,
  MEMBER_OFFLINE: 5,
  OTHER: 6,
  CALL_RESULT: 7,
  CALL_RECORD: 7,
};

/** Events that end a one-to-one call, with the result they imply. */
export const ENDING_RESULT: Partial<Record<CallEventType, CallResult>> = {
  NOT_ANSWER_CALL: 'NOT_ANSWER',
  CALL_MISSED: 'NOT_ANSWER',
  REJECT_CALL: 'REJECT',
  CALL_REJECTED: 'REJECT',
  CALL_BUSY: 'CALL_BUSY',
  CANCEL_CALL: 'CANCEL',
  CALL_CANCELED: 'CANCEL',
  CALL_FAILED: 'FAILED',
  CALL_END: 'NORMAL_END',
  CALL_INTERRUPTED: 'INTERRUPT',
  MEMBER_REJECTED: 'REJECT',
  MEMBER_NOT_ANSWERED: 'NOT_ANSWER',
  MEMBER_CANCELED: 'CANCEL',
  MEMBER_HUNG_UP: 'NORMAL_END',
  // Offline is the heartbeat expiring (docs/trtc-callbacks.md, section 5): Tencent's record says Offline too.
  MEMBER_OFFLINE: 'OFFLINE',
};

/** The events that start a call: v1 `start_call`, and each user of a v4 `Call.CallbackAfterStartCall`. */
export const START_EVENTS: ReadonlySet<CallEventType> = new Set(['START_CALL', 'CALL_STARTED']);

/** Tencent's statement that the call is over and how: a v1 status callback or a v4 call record. They end any call. */
export const STATUS_EVENTS: ReadonlySet<CallEventType> = new Set(['CALL_RESULT', 'CALL_RECORD']);

/**
 * Events whose StartCallTs/AcceptTs/EndTs (v4: the record's StartTime/AcceptTime/EndTime) are
 * Tencent's record of the call (docs/trtc-callbacks.md, sections 2 and 5).
 */
export const RECORD_EVENTS: ReadonlySet<CallEventType> = new Set(['CALL_END', 'CALL_INTERRUPTED', 'CALL_RESULT', 'CALL_RECORD']);
