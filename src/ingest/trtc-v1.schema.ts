import { z } from 'zod';
import { AppError, fieldError } from '../domain/app-error';
import { canonicalJson, sha256Hex } from '../domain/canonical-json';
import { mayHoldLargeIntegers, quoteLargeIntegers } from '../domain/large-integers';
import {
  toCallEventType,
  toCallResult,
  toCallType,
  toMediaType,
  toRole,
  type CallEventType,
  type CallResult,
  type CallType,
  type MediaType,
  type Role,
} from '../domain/vocabulary';
import { blank, checkQueryLengths, id, optionalCount, optionalText, optionalTime, seconds, time } from './callback-fields';

/**
 * One stored event, normalised: a v1 callback (event or status), or one user's part of a v4 callback
 * (docs/trtc-callbacks.md, section 5). Times are Unix seconds.
 */
export interface CallbackEvent {
  readonly sdkAppId: string;
  readonly callId: string;
  readonly roomId: string | null;
  readonly userId: string;
  readonly role: Role | null;
  /** The `Event` as sent (v4: the `ActionType` or `Status`); empty for a status callback or a v4 call record. */
  readonly rawEvent: string;
  readonly type: CallEventType;
  readonly callType: CallType | null;
  readonly mediaType: MediaType | null;
  readonly totalNum: number | null;
  readonly callResult: CallResult | null;
  readonly rawCallResult: string | null;
  readonly eventTime: number;
  readonly startCallTs: number | null;
  readonly acceptTs: number | null;
  readonly endTs: number | null;
  readonly command: string | null;
  readonly clientIp: string | null;
  readonly platform: string | null;
  readonly body: Record<string, unknown>;
  /** SHA-256 of the canonical body (v4: followed by `:<entry>`): a redelivery of the same body has the same key. */
  readonly dedupeKey: string;
}

/** Query parameters with lower-cased names (v1 sends `sdkappid`, v4 `SdkAppid`). */
export type CallbackQuery = Readonly<Record<string, string | undefined>>;

/** What each field must be, in words for error messages. */
const EXPECTED: Record<string, string> = {
  UserId: 'a non-empty string of at most 256 characters',
  CallId: 'a non-empty string of at most 256 characters',
  EventTime: 'Unix seconds from 2001 to 2060 (milliseconds are accepted too)',
  RoomId: 'a string of at most 1024 characters',
  TotalNum: 'an integer from 0 to 100000',
  MediaType: 'a short string such as "audio" or "video"',
  CallType: 'a short string such as "single" or "group"',
  Role: 'a short string such as "caller" or "callee"',
  Event: 'a short string such as "start_call"',
  CallResult: 'a short string such as "normal_end"',
  StartCallTs: 'Unix seconds from 2001 to 2060, or 0 for unknown',
  AcceptTs: 'Unix seconds from 2001 to 2060, or 0 for unknown',
  EndTs: 'Unix seconds from 2001 to 2060, or 0 for unknown',
};

const bodySchema = z.looseObject({
  UserId: id,
  CallId: id,
  EventTime: time,
  RoomId: optionalText(1024),
  TotalNum: optionalCount,
  MediaType: optionalText(64),
  CallType: optionalText(64),
  Role: optionalText(64),
  Event: optionalText(64),
  CallResult: optionalText(64),
  StartCallTs: optionalTime,
  AcceptTs: optionalTime,
  EndTs: optionalTime,
});

/** `caller_accept_call` → caller; status words have no role prefix. */
function roleFromCommand(command: string | null): Role | null {
  const prefix = command?.toLowerCase().split('_', 1)[0];
  return prefix === 'caller' || prefix === 'callee' ? toRole(prefix) : null;
}

/** Deeper bodies are refused before anything recursive walks them. */
const MAX_DEPTH = 32;

/** The deepest nesting of objects and arrays in a JSON text, counted without parsing it. */
function nestingDepth(json: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const ch = json[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '{' || ch === '[') max = Math.max(max, ++depth);
    else if (ch === '}' || ch === ']') depth--;
  }
  return max;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// eslint-disable-next-line no-control-regex -- PostgreSQL text cannot hold U+0000: it is what we look for.
const NUL = /\u0000/;

/** True when a string or key anywhere in the parsed value matches `pattern`. */
function anyText(value: unknown, pattern: RegExp): boolean {
  if (typeof value === 'string') return pattern.test(value);
  if (value !== null && typeof value === 'object') return Object.entries(value).some(([k, v]) => pattern.test(k) || anyText(v, pattern));
  return false;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Parses a raw body (whatever its Content-Type) as JSON; integers beyond 2^53 become strings of their digits. */
export function parseJsonBody(raw: Buffer): Record<string, unknown> {
  let textBody: string;
  try {
    textBody = UTF8.decode(raw);
  } catch {
    // Decoding leniently would store U+FFFD in place of what was sent: refuse, and keep the bytes.
    throw new AppError('INVALID_JSON', 'body: expected UTF-8 text, got bytes that are not UTF-8', 'body');
  }
  if (nestingDepth(textBody) > MAX_DEPTH) {
    throw new AppError('INVALID_JSON', `body: expected JSON nested at most ${MAX_DEPTH} levels deep, got deeper`, 'body');
  }
  let value: unknown;
  try {
    value = JSON.parse(textBody);
  } catch (err) {
    throw new AppError('INVALID_JSON', `body: expected a JSON object, got invalid JSON (${(err as Error).message})`, 'body');
  }
  // JSON.parse rounds integers beyond 2^53, such as v4's numeric User_Account (docs/trtc-callbacks.md,
  // section 5): those are read as the text of their digits instead.
  if (mayHoldLargeIntegers(textBody)) value = JSON.parse(quoteLargeIntegers(textBody));
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw fieldError('INVALID_JSON', 'body', 'a JSON object', value);
  }
  // PostgreSQL text and jsonb cannot hold U+0000 or a lone UTF-16 surrogate.
  if (anyText(value, NUL)) {
    throw new AppError('INVALID_JSON', 'body: expected JSON without NUL (\\u0000) characters, got a body containing one', 'body');
  }
  if (anyText(value, LONE_SURROGATE)) {
    throw new AppError('INVALID_JSON', 'body: expected JSON text of valid Unicode, got a lone surrogate escape (such as \\ud800)', 'body');
  }
  return value as Record<string, unknown>;
}

/**
 * Validates a v1 event or status callback (docs/trtc-callbacks.md, sections 2 and 3) and normalises it.
 * Throws an {@link AppError} naming the first bad field, what was expected and what arrived.
 */
export function parseV1Callback(sdkAppId: string, query: CallbackQuery, body: Record<string, unknown>): CallbackEvent {
  if (typeof body.CallbackCommand === 'string' || query.callbackcommand !== undefined) {
    throw fieldError('UNSUPPORTED_CALLBACK', 'CallbackCommand', 'a v1 TRTC Call callback (v4 callbacks are read by parseV4Callback)', body.CallbackCommand ?? query.callbackcommand);
  }
  const parsed = bodySchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = String(issue.path[0] ?? 'body');
    throw fieldError('INVALID_FIELD', field, EXPECTED[field] ?? issue.message, body[field]);
  }
  const b = parsed.data;
  const rawEvent = blank(b.Event);
  const rawCallResult = blank(b.CallResult);
  if (rawEvent === null && rawCallResult === null) {
    throw fieldError('INVALID_FIELD', 'Event', 'an event name, or a CallResult for a status callback', body.Event);
  }
  checkQueryLengths(query, ['command', 'clientip', 'optplatform']);
  const command = blank(query.command);
  return {
    sdkAppId,
    callId: b.CallId,
    roomId: blank(b.RoomId),
    userId: b.UserId,
    role: toRole(b.Role) ?? roleFromCommand(command),
    rawEvent: rawEvent ?? '',
    type: toCallEventType(rawEvent === null ? null : rawEvent),
    callType: toCallType(b.CallType),
    mediaType: toMediaType(b.MediaType),
    totalNum: typeof b.TotalNum === 'number' ? b.TotalNum : null,
    callResult: toCallResult(rawCallResult),
    rawCallResult,
    eventTime: b.EventTime,
    startCallTs: seconds(b.StartCallTs),
    acceptTs: seconds(b.AcceptTs),
    endTs: seconds(b.EndTs),
    command,
    clientIp: blank(query.clientip),
    platform: blank(query.optplatform),
    body,
    dedupeKey: sha256Hex(canonicalJson(body)),
  };
}
