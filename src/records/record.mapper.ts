import { z } from 'zod';
import { fieldError } from '../domain/app-error';
import { canonicalJson, sha256Hex } from '../domain/canonical-json';
import { toMediaType, toV4CallResult, toV4CallType } from '../domain/vocabulary';
import { blank, id, optionalText, optionalTime, seconds } from '../ingest/callback-fields';
import type { CallbackEvent } from '../ingest/trtc-v1.schema';
import { V4_MAX_USERS, v4CallRecord } from '../ingest/trtc-v4.schema';
import type { RecordsApiGeneration } from '../trtc-apps.config';
import { FILTER_PATHS } from './records-api.schema';

/** One call record, either generation, before it becomes events. Times are Unix seconds, `null` unknown. */
interface CallRecord {
  readonly callId: string;
  readonly caller: string;
  readonly callees: readonly string[];
  readonly mediaType: string | null | undefined;
  readonly callType: string | null | undefined;
  readonly callResult: string | null | undefined;
  readonly roomId: string | null | undefined;
  readonly start: number | null;
  readonly accept: number | null;
  readonly end: number | null;
}

const users = z.array(id).max(V4_MAX_USERS).optional();

/** v1 records: camelCase names and v1's lowercase values (`video`, `single`, `normal_end`). */
const v1Record = z.looseObject({
  callId: id,
  caller: id,
  mediaType: optionalText(64),
  callType: optionalText(64),
  startCallTs: optionalTime,
  acceptTs: optionalTime,
  endTs: optionalTime,
  callResult: optionalText(64),
  callees: users,
  roomId: optionalText(1024),
});

const ID = 'a non-empty string (or number) of at most 256 characters';
const TIME = 'Unix seconds from 2001 to 2060, or 0 for unknown';
/** What each field must be, in words for error messages; v1 and v4 names side by side. */
const EXPECTED: Record<string, string> = {
  CallId: ID, callId: ID, Caller_Account: ID, caller: ID,
  StartTime: TIME, AcceptTime: TIME, EndTime: TIME, startCallTs: TIME, acceptTs: TIME, endTs: TIME,
  CalleeList_Account: `an array of at most ${V4_MAX_USERS} user ids`, callees: `an array of at most ${V4_MAX_USERS} user ids`,
  RoomId: 'a string of at most 1024 characters', roomId: 'a string of at most 1024 characters',
};

function read<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw fieldError('INVALID_FIELD', 'record', 'a JSON object', raw);
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const { path, message } = parsed.error.issues[0];
  const name = path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
  const got = path.reduce<unknown>((v, p) => (v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined), raw);
  // An entry of a list of users is an id.
  const expected = path.length > 1 ? ID : (EXPECTED[String(path[0])] ?? `a short string (${message})`);
  throw fieldError('INVALID_FIELD', name, expected, got);
}

/** Reads a record as Tencent's API sent it into the fields calltrail keeps. */
function normalise(generation: RecordsApiGeneration, raw: unknown): CallRecord {
  if (generation === 'v4') {
    const r = read(v4CallRecord, raw);
    return {
      callId: r.CallId, caller: r.Caller_Account, callees: r.CalleeList_Account ?? [], mediaType: r.MediaType, callType: r.CallType,
      callResult: r.CallResult, roomId: r.RoomId, start: seconds(r.StartTime), accept: seconds(r.AcceptTime), end: seconds(r.EndTime),
    };
  }
  const r = read(v1Record, raw);
  return {
    callId: r.callId, caller: r.caller, callees: r.callees ?? [], mediaType: r.mediaType, callType: r.callType,
    callResult: r.callResult, roomId: r.roomId, start: seconds(r.startCallTs), accept: seconds(r.acceptTs), end: seconds(r.endTs),
  };
}

/**
 * Turns one record from the records API (docs/trtc-callbacks.md, section 7) into the events the
 * `Call.CallbackAfterEndCall` callback gives: one `CALL_RECORD` for the caller, then one per other
 * callee, so a record folds with the callbacks of its call. `command` is the API's path; the first
 * event keeps the record as sent, the others point at it. Each dedupe key is `record:` and the
 * SHA-256 of the record's canonical JSON, then `:<index>`: the same record pulled twice is stored once.
 * Throws an AppError naming the first bad field.
 */
export function recordToEvents(sdkAppId: string, generation: RecordsApiGeneration, raw: unknown): CallbackEvent[] {
  const r = normalise(generation, raw);
  // A record has no EventTime: it speaks for the call's end (its start when Tencent gives no end).
  const eventTime = r.end ?? r.accept ?? r.start;
  if (eventTime === null) throw fieldError('INVALID_FIELD', generation === 'v4' ? 'EndTime' : 'endTs', "the call's end (or start) in Unix seconds", 0);
  const hash = sha256Hex(canonicalJson(raw));
  const command = FILTER_PATHS[generation];
  const ids = [...new Set([r.caller, ...r.callees])];
  return ids.map((userId, i) => ({
    sdkAppId,
    callId: r.callId,
    roomId: blank(r.roomId),
    userId,
    role: i === 0 ? 'CALLER' : 'CALLEE',
    rawEvent: '',
    type: 'CALL_RECORD',
    callType: toV4CallType(r.callType),
    mediaType: toMediaType(r.mediaType),
    totalNum: ids.length,
    callResult: toV4CallResult(r.callResult),
    rawCallResult: blank(r.callResult),
    eventTime,
    startCallTs: r.start,
    acceptTs: r.accept,
    endTs: r.end,
    command,
    clientIp: null,
    platform: null,
    body: i === 0 ? (raw as Record<string, unknown>) : { bodyIn: `record:${hash}:0` },
    dedupeKey: `record:${hash}:${i}`,
  }));
}
