/**
 * The call vocabulary: Tencent's words, v1 lowercase (docs/trtc-callbacks.md, sections 2 and 3) and v4
 * PascalCase (section 5), mapped to the UPPER_SNAKE values calltrail stores and serves. Pure; no I/O.
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

/** v1 event names (docs/trtc-callbacks.md, section 2): the types an `Event` word can name. */
const V1_EVENT_TYPES = [
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
] as const;

/**
 * What one user did in a v4 callback (docs/trtc-callbacks.md, section 5): `CALL_STARTED` for each user of
 * `Call.CallbackAfterStartCall`, `MEMBER_*` for each `ActionType` of `Call.CallbackAfterMemberChanged`,
 * `CALL_RECORD` for each user of `Call.CallbackAfterEndCall`.
 */
export const V4_EVENT_TYPES = [
  'CALL_STARTED',
  'MEMBER_INVITED',
  'MEMBER_ACCEPTED',
  'MEMBER_JOINED',
  'MEMBER_REJECTED',
  'MEMBER_NOT_ANSWERED',
  'MEMBER_CANCELED',
  'MEMBER_HUNG_UP',
  'MEMBER_OFFLINE',
  'CALL_RECORD',
] as const;

/** Every stored event type; new ones are only ever appended (GraphQL clients know them by name). */
export const CALL_EVENT_TYPES = [...V1_EVENT_TYPES, 'CALL_RESULT', 'OTHER', ...V4_EVENT_TYPES] as const;
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
  return lookup(V1_EVENT_TYPES, event) ?? 'OTHER';
}

/** A `CallResult` word as sent; empty means none (`null`); unrecognised words are `UNKNOWN`. */
export function toCallResult(word: string | null | undefined): CallResult | null {
  if (word === null || word === undefined || word.trim() === '') return null;
  return lookup(CALL_RESULTS, word) ?? 'UNKNOWN';
}

/** `NormalEnd` → `Normal_End`: v4 PascalCase words in v1's snake shape. */
const snake = (word: string | null | undefined): string | null | undefined => word?.trim().replace(/([a-z])([A-Z])/g, '$1_$2');

/** A v4 `CallResult` (`NormalEnd`, `NotAnswer`, `CallBusy`, …) to the same values as v1's (section 5). */
export const toV4CallResult = (word: string | null | undefined): CallResult | null => toCallResult(snake(word));

/** A v4 `CallType`: `SingleCall` → SINGLE, `MultiCall` → GROUP; v1 words are read too; anything else is unknown. */
export function toV4CallType(word: string | null | undefined): CallType | null {
  const key = word?.trim().toLowerCase();
  if (key === 'singlecall') return 'SINGLE';
  if (key === 'multicall') return 'GROUP';
  return toCallType(word);
}

/** Each `ActionType` spelling Tencent uses, with case, spaces, `_` and `-` taken out. */
const MEMBER_ACTIONS: ReadonlyMap<string, CallEventType> = new Map<string, CallEventType>([
  ['invite', 'MEMBER_INVITED'],
  ['invited', 'MEMBER_INVITED'],
  ['accept', 'MEMBER_ACCEPTED'],
  ['answer', 'MEMBER_ACCEPTED'],
  ['join', 'MEMBER_JOINED'],
  ['reject', 'MEMBER_REJECTED'],
  ['notanswer', 'MEMBER_NOT_ANSWERED'],
  ['cancelinvite', 'MEMBER_CANCELED'],
  ['canncelinvite', 'MEMBER_CANCELED'],
  ['hangup', 'MEMBER_HUNG_UP'],
  ['offline', 'MEMBER_OFFLINE'],
]);

/**
 * A v4 `ActionType` to its type. Tencent spells them several ways (`Hang Up`/`Hangup`,
 * `Canncel_Invite`/`Cancel_Invite`, docs/trtc-callbacks.md, section 5), so case, spaces, `_` and `-`
 * are ignored; an unknown action is `OTHER`, stored as sent.
 */
export function toMemberActionType(action: string): CallEventType {
  return MEMBER_ACTIONS.get(action.toLowerCase().replace(/[\s_-]/g, '')) ?? 'OTHER';
}
