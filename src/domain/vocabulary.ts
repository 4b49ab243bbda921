/**
 * The call vocabulary: Tencent's lowercase words (docs/trtc-callbacks.md, sections 2 and 3) mapped to the
 * UPPER_SNAKE values calltrail stores and serves. Pure; no I/O.
 */

export const MEDIA_TYPES = ['AUDIO', 'VIDEO'] as const;
export type MediaType = (typeof MEDIA_TYPES)[number];

export const CALL_TYPES = ['SINGLE', 'GROUP'] as const;
export type CallType = (typeof CALL_TYPES)[number];

export const ROLES = ['CALLER', 'CALLEE'] as const;
export type Role = (typeof ROLES)[number];

export const CALL_STATUSES = ['RINGING', 'ONGOING', 'ENDED'] as const;
export type CallStatus = (typeof CALL_STATUSES)[number];

export const CALL_RESULTS = [
  'NORMAL_END',
  'NOT_ANSWER',
  'REJECT',
  'CALL_BUSY',
  'CANCEL',
  'INTERRUPT',
  'FAILED',
  'OFFLINE',
  'UNKNOWN',
] as const;
export type CallResult = (typeof CALL_RESULTS)[number];

export const PARTICIPANT_OUTCOMES = [
  'INVITED',
  'ACCEPTED',
  'REJECTED',
  'NO_ANSWER',
  'BUSY',
  'IGNORED',
  'CANCELED',
  'ENDED',
  'INTERRUPTED',
  'FAILED',
  'JOINED',
] as const;
export type ParticipantOutcome = (typeof PARTICIPANT_OUTCOMES)[number];

export const CALL_EVENT_TYPES = [
  'START_CALL',
  'CALL_ACCEPTED',
  'CALL_MISSED',
  'CALL_REJECTED',
  'CALL_BUSY',
  'CANCEL_CALL',
  'CALL_FAILED',
  'CALL_END',
  'CALL_INTERRUPTED',
  'RECEIVE_CALL',
  'ACCEPT_CALL',
  'NOT_ANSWER_CALL',
  'REJECT_CALL',
  'IGNORE_CALL',
  'CALL_CANCELED',
  'INVITE_USER',
  'JOIN_IN_GROUP_CALL',
  'CALL_RESULT',
  'OTHER',
] as const;
export type CallEventType = (typeof CALL_EVENT_TYPES)[number];

function lookup<T extends string>(values: readonly T[], word: string | null | undefined): T | null {
  if (word === null || word === undefined) return null;
  const upper = word.trim().toUpperCase() as T;
  return values.includes(upper) ? upper : null;
}

/** `audio`/`video` in any case; anything else is unknown (`null`). */
export const toMediaType = (word: string | null | undefined): MediaType | null => lookup(MEDIA_TYPES, word);

/** `single`/`group` in any case; anything else is unknown (`null`). */
export const toCallType = (word: string | null | undefined): CallType | null => lookup(CALL_TYPES, word);

/** `caller`/`callee` in any case; anything else is unknown (`null`). */
export const toRole = (word: string | null | undefined): Role | null => lookup(ROLES, word);

/**
 * An event name as sent (`accept_call`) to its type; unknown names are `OTHER` and are stored as
 * sent. `null` (no `Event` field) is a status callback: `CALL_RESULT`.
 */
export function toCallEventType(event: string | null): CallEventType {
  if (event === null) return 'CALL_RESULT';
  const type = lookup(CALL_EVENT_TYPES, event);
  return type === null || type === 'CALL_RESULT' || type === 'OTHER' ? 'OTHER' : type;
}

/** A `CallResult` word as sent; empty means none (`null`); unrecognised words are `UNKNOWN`. */
export function toCallResult(word: string | null | undefined): CallResult | null {
  if (word === null || word === undefined || word.trim() === '') return null;
  return lookup(CALL_RESULTS, word) ?? 'UNKNOWN';
}
