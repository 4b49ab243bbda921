import { z } from 'zod';
import { fieldError, type AppError } from '../domain/app-error';
import { canonicalJson, sha256Hex } from '../domain/canonical-json';
import { toMediaType, toMemberActionType, toV4CallResult, toV4CallType, type CallType, type Role } from '../domain/vocabulary';
import { blank, checkQueryLengths, id, optionalText, optionalTime, seconds, text, time } from './callback-fields';
import type { CallbackEvent, CallbackQuery } from './trtc-v1.schema';

/**
 * Most users one list of a v4 body may name. Each becomes a stored event that keeps the whole body,
 * so this bounds what one callback can become; Tencent's calls are far smaller.
 */
export const V4_MAX_USERS = 100;

const user = z.looseObject({ User_Account: id, Status: optionalText(64) });
const users = z.array(user).max(V4_MAX_USERS);

const startCall = z.looseObject({
  CallInfo: z.looseObject({ CallId: id, CallMediaType: optionalText(64), RoomId: optionalText(1024) }),
  UserList: users.min(1),
  EventTime: time,
});

/** The call record of `Call.CallbackAfterEndCall`, also what Tencent's v4 records API returns (docs/trtc-callbacks.md, sections 5 and 7). */
export const v4CallRecord = z.looseObject({
  CallId: id,
  Caller_Account: id,
  MediaType: optionalText(64),
  CallType: optionalText(64),
  StartTime: optionalTime,
  AcceptTime: optionalTime,
  EndTime: optionalTime,
  CallResult: optionalText(64),
  CalleeList_Account: z.array(id).max(V4_MAX_USERS).optional(),
  RoomId: optionalText(1024),
});

const endCall = z.looseObject({
  CallRecord: v4CallRecord,
  EventTime: time,
});

const memberChanged = z.looseObject({
  CallId: id,
  UserList: users.optional(),
  ChangedUserList: z
    .array(z.looseObject({ User_Account: id, ActionType: text.pipe(z.string().trim().min(1).max(64)) }))
    .min(1)
    .max(V4_MAX_USERS),
  EventTime: time,
});

const ID = 'a non-empty string (or number) of at most 256 characters';
const RECORD_TIME = 'Unix seconds from 2001 to 2060, or 0 for unknown';
/** What each field must be, in words for error messages; array entries are `[]`. */
const EXPECTED: Record<string, string> = {
  EventTime: 'Unix milliseconds from 2001 to 2060 (seconds are accepted too)',
  CallId: ID,
  CallInfo: 'an object with the call: {"CallId", "CallMediaType", "RoomId"}',
  'CallInfo.CallId': ID,
  'CallInfo.CallMediaType': 'a short string such as "Audio" or "Video"',
  'CallInfo.RoomId': 'a string of at most 1024 characters',
  UserList: `an array of at most ${V4_MAX_USERS} users {"User_Account", "Status"} (at least one when a call starts)`,
  'UserList[].User_Account': ID,
  'UserList[].Status': 'a short string such as "Calling" or "Waiting"',
  ChangedUserList: `an array of 1 to ${V4_MAX_USERS} changes {"User_Account", "ActionType"}`,
  'ChangedUserList[].User_Account': ID,
  'ChangedUserList[].ActionType': 'a non-empty string of at most 64 characters such as "Accept" or "Hang Up"',
  CallRecord: 'an object with the call record: {"CallId", "Caller_Account", "CallResult", …}',
  'CallRecord.CallId': ID,
  'CallRecord.Caller_Account': ID,
  'CallRecord.MediaType': 'a short string such as "Audio" or "Video"',
  'CallRecord.CallType': 'a short string such as "SingleCall" or "MultiCall"',
  'CallRecord.StartTime': RECORD_TIME,
  'CallRecord.AcceptTime': RECORD_TIME,
  'CallRecord.EndTime': RECORD_TIME,
  'CallRecord.CallResult': 'a short string such as "NormalEnd"',
  'CallRecord.CalleeList_Account': `an array of at most ${V4_MAX_USERS} user ids`,
  'CallRecord.CalleeList_Account[]': ID,
  'CallRecord.RoomId': 'a string of at most 1024 characters',
};

/** What every event of one v4 body shares. */
type Shared = Pick<CallbackEvent, 'sdkAppId' | 'command' | 'clientIp' | 'platform' | 'body' | 'eventTime'>;
/** One user's part of a v4 body, before the shared fields are added. */
type Entry = Omit<CallbackEvent, keyof Shared | 'dedupeKey'>;

/** A call with more than two users is a group call; two may be either (only the record says). */
const groupIfMoreThanTwo = (ids: readonly string[]): CallType | null => (new Set(ids).size > 2 ? 'GROUP' : null);

const NO_RECORD = { callResult: null, rawCallResult: null, startCallTs: null, acceptTs: null, endTs: null } as const;

/**
 * `Call.CallbackAfterStartCall`: one `CALL_STARTED` per user of `UserList`. Its only sign of the caller is
 * `Status`: "Calling" (in the call) is the user who started it, "Waiting" the invited ones, so the one
 * "Calling" user is taken as the caller; with none or several, no role is given (docs/trtc-callbacks.md, section 5).
 */
function startCallEntries(b: z.infer<typeof startCall>): Entry[] {
  const calling = b.UserList.filter((u) => u.Status?.trim().toLowerCase() === 'calling');
  const callerId = calling.length === 1 ? calling[0].User_Account : null;
  const roleOf = (userId: string): Role | null => (callerId === null ? null : userId === callerId ? 'CALLER' : 'CALLEE');
  const ids = b.UserList.map((u) => u.User_Account);
  return b.UserList.map((u) => ({
    callId: b.CallInfo.CallId,
    roomId: blank(b.CallInfo.RoomId),
    userId: u.User_Account,
    role: roleOf(u.User_Account),
    rawEvent: u.Status ?? '',
    type: 'CALL_STARTED',
    callType: groupIfMoreThanTwo(ids),
    mediaType: toMediaType(b.CallInfo.CallMediaType),
    totalNum: ids.length,
    ...NO_RECORD,
  }));
}

/** `Call.CallbackAfterEndCall`: one `CALL_RECORD` for the caller, then one per other user of `CalleeList_Account`. */
function endCallEntries(b: z.infer<typeof endCall>): Entry[] {
  const r = b.CallRecord;
  const ids = [...new Set([r.Caller_Account, ...(r.CalleeList_Account ?? [])])];
  return ids.map((userId, i) => ({
    callId: r.CallId,
    roomId: blank(r.RoomId),
    userId,
    role: i === 0 ? 'CALLER' : 'CALLEE',
    rawEvent: '',
    type: 'CALL_RECORD',
    callType: toV4CallType(r.CallType),
    mediaType: toMediaType(r.MediaType),
    totalNum: ids.length,
    callResult: toV4CallResult(r.CallResult),
    rawCallResult: blank(r.CallResult),
    startCallTs: seconds(r.StartTime),
    acceptTs: seconds(r.AcceptTime),
    endTs: seconds(r.EndTime),
  }));
}

/** `Call.CallbackAfterMemberChanged`: one `MEMBER_*` event per entry of `ChangedUserList`, the `ActionType` as sent. */
function memberChangedEntries(b: z.infer<typeof memberChanged>): Entry[] {
  const ids = [...(b.UserList ?? []), ...b.ChangedUserList].map((u) => u.User_Account);
  return b.ChangedUserList.map((c) => ({
    callId: b.CallId,
    roomId: null,
    userId: c.User_Account,
    role: null,
    rawEvent: c.ActionType,
    type: toMemberActionType(c.ActionType),
    callType: groupIfMoreThanTwo(ids),
    mediaType: null,
    totalNum: b.UserList?.length ?? null,
    ...NO_RECORD,
  }));
}

interface Reader<S extends z.ZodType> {
  readonly schema: S;
  readonly entries: (body: z.infer<S>) => Entry[];
}
const reader = <S extends z.ZodType>(schema: S, entries: (body: z.infer<S>) => Entry[]): Reader<z.ZodType> => ({ schema, entries }) as Reader<z.ZodType>;

/** The v4 commands calltrail reads, by lower-cased name (docs/trtc-callbacks.md, section 5). */
const READERS = new Map<string, Reader<z.ZodType>>([
  ['call.callbackafterstartcall', reader(startCall, startCallEntries)],
  ['call.callbackafterendcall', reader(endCall, endCallEntries)],
  ['call.callbackaftermemberchanged', reader(memberChanged, memberChangedEntries)],
]);
const COMMANDS = 'one of Call.CallbackAfterStartCall, Call.CallbackAfterEndCall and Call.CallbackAfterMemberChanged';

/** True for a v4 callback: `CallbackCommand` in the body or the URL (docs/trtc-callbacks.md, section 5). */
export function isV4Callback(query: CallbackQuery, body: Record<string, unknown>): boolean {
  return body.CallbackCommand !== undefined || query.callbackcommand !== undefined;
}

/** The command, from the body or the URL; both, when sent, must agree. */
function commandOf(query: CallbackQuery, body: Record<string, unknown>): string {
  const inBody = body.CallbackCommand;
  const inUrl = query.callbackcommand;
  if (inBody !== undefined && typeof inBody !== 'string') {
    throw fieldError('INVALID_FIELD', 'CallbackCommand', 'a string such as "Call.CallbackAfterEndCall"', inBody);
  }
  if (inBody !== undefined && inUrl !== undefined && inBody.trim().toLowerCase() !== inUrl.trim().toLowerCase()) {
    throw fieldError('INVALID_FIELD', 'CallbackCommand', `the command of the URL (${JSON.stringify(inUrl)}) in the body too`, inBody);
  }
  return (inBody ?? inUrl ?? '').trim();
}

/** `['ChangedUserList', 0, 'ActionType']` → `ChangedUserList[0].ActionType`, or with `[]` for the table key. */
const fieldName = (path: readonly PropertyKey[], index: (n: number) => string): string =>
  path.map((p) => (typeof p === 'number' ? `[${index(p)}]` : `.${String(p)}`)).join('').replace(/^\./, '') || 'body';

function refusal(error: z.ZodError, body: Record<string, unknown>): AppError {
  const { path, message } = error.issues[0];
  const got = path.reduce<unknown>((v, p) => (v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined), body);
  return fieldError('INVALID_FIELD', fieldName(path, String), EXPECTED[fieldName(path, () => '')] ?? message, got);
}

/** The dedupe key of a v4 callback's entry: its body's canonical SHA-256, then `:<entry>`. */
export const v4DedupeKey = (hash: string, entry: number): string => `${hash}:${entry}`;
const V4_DEDUPE_KEY = /^([0-9a-f]{64}):(\d+)$/;

/** The body hash and entry of a v4 event's dedupe key; null for a v1 event's. */
export function parseV4DedupeKey(key: string): { readonly hash: string; readonly entry: number } | null {
  const m = V4_DEDUPE_KEY.exec(key);
  return m ? { hash: m[1], entry: Number(m[2]) } : null;
}

/**
 * Validates a v4 callback (docs/trtc-callbacks.md, section 5) and normalises it into one event per user
 * it names, in body order. The first event keeps the whole body, the others a pointer to it; each
 * dedupe key is the body's SHA-256 and the entry's index, so a redelivered body gives the same
 * events and is stored once.
 * Throws an {@link AppError} naming the first bad field, what was expected and what arrived.
 */
export function parseV4Callback(sdkAppId: string, query: CallbackQuery, body: Record<string, unknown>): CallbackEvent[] {
  const command = commandOf(query, body);
  const read = READERS.get(command.toLowerCase());
  if (read === undefined) throw fieldError('UNSUPPORTED_CALLBACK', 'CallbackCommand', COMMANDS, body.CallbackCommand ?? query.callbackcommand);
  const parsed = read.schema.safeParse(body);
  if (!parsed.success) throw refusal(parsed.error, body);
  checkQueryLengths(query, ['callbackcommand', 'clientip', 'optplatform']);
  const shared: Shared = {
    sdkAppId,
    command,
    clientIp: blank(query.clientip),
    platform: blank(query.optplatform),
    body,
    eventTime: (parsed.data as { EventTime: number }).EventTime,
  };
  const hash = sha256Hex(canonicalJson(body));
  // The whole body is kept once, on the first event; the others point at it. One body naming 100
  // users must not become 100 copies of 64 KiB in PostgreSQL, the queue and the spool.
  return read.entries(parsed.data).map((entry, i) => ({
    ...shared,
    ...entry,
    body: i === 0 ? body : { CallbackCommand: command, bodyIn: v4DedupeKey(hash, 0) },
    dedupeKey: v4DedupeKey(hash, i),
  }));
}
