import { z } from 'zod';
import { AppError, fieldError } from '../domain/app-error';
import { canonicalJson, sha256Hex } from '../domain/canonical-json';
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

/** One accepted v1 callback (event or status), normalised. Times are Unix seconds. */
export interface CallbackEvent {
  readonly sdkAppId: string;
  readonly callId: string;
  readonly roomId: string | null;
  readonly userId: string;
  readonly role: Role | null;
  /** The `Event` as sent; empty for a status callback. */
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
  /** SHA-256 of the canonical body: a redelivery of the same body has the same key. */
  readonly dedupeKey: string;
}

/** Query parameters with lower-cased names (v1 sends `sdkappid`, v4 `SdkAppid`). */
export type CallbackQuery = Readonly<Record<string, string | undefined>>;

/** Integers arrive as numbers or numeric strings; bounded so every value fits its column. */
const integer = z
  .union([z.number().int(), z.string().trim().regex(/^-?\d+$/).transform(Number)])
  .pipe(z.number().min(0).max(1e13));
const text = z.union([z.string(), z.number().transform(String)]);
const required = text.pipe(z.string().trim().min(1));
const optionalText = z.union([text, z.null()]).optional();
const optionalInt = z.union([integer, z.literal(''), z.null()]).optional();

/** What each field must be, in words for error messages. */
const EXPECTED: Record<string, string> = {
  UserId: 'a non-empty string',
  CallId: 'a non-empty string',
  EventTime: 'Unix seconds as a positive integer (milliseconds are accepted too)',
  RoomId: 'a string',
  TotalNum: 'a non-negative integer',
  MediaType: 'a string such as "audio" or "video"',
  CallType: 'a string such as "single" or "group"',
  Role: 'a string such as "caller" or "callee"',
  Event: 'a string such as "start_call"',
  CallResult: 'a string such as "normal_end"',
  StartCallTs: 'Unix seconds as an integer',
  AcceptTs: 'Unix seconds as an integer',
  EndTs: 'Unix seconds as an integer',
};

const bodySchema = z.looseObject({
  UserId: required,
  CallId: required,
  EventTime: integer.pipe(z.number().positive()),
  RoomId: optionalText,
  TotalNum: optionalInt,
  MediaType: optionalText,
  CallType: optionalText,
  Role: optionalText,
  Event: optionalText,
  CallResult: optionalText,
  StartCallTs: optionalInt,
  AcceptTs: optionalInt,
  EndTs: optionalInt,
});

/** Seconds; a value in milliseconds (v4 style) is scaled; 0, empty or missing means unknown. */
function seconds(value: number | '' | null | undefined): number | null {
  if (value === '' || value === null || value === undefined || value <= 0) return null;
  return value >= 1e12 ? Math.floor(value / 1000) : value;
}

const blank = (v: string | null | undefined): string | null => (v === null || v === undefined || v.trim() === '' ? null : v);

/** `caller_accept_call` → caller; status words have no role prefix. */
function roleFromCommand(command: string | null): Role | null {
  const prefix = command?.toLowerCase().split('_', 1)[0];
  return prefix === 'caller' || prefix === 'callee' ? toRole(prefix) : null;
}

/** Parses a raw body (whatever its Content-Type) as JSON. */
export function parseJsonBody(raw: Buffer): Record<string, unknown> {
  const textBody = raw.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(textBody);
  } catch (err) {
    throw new AppError('INVALID_JSON', `body: expected a JSON object, got invalid JSON (${(err as Error).message})`, 'body');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw fieldError('INVALID_JSON', 'body', 'a JSON object', value);
  }
  // PostgreSQL text and jsonb cannot hold U+0000.
  if (textBody.includes('\\u0000') || textBody.includes('\u0000')) {
    throw new AppError('INVALID_JSON', 'body: expected JSON without NUL (\\u0000) characters, got a body containing one', 'body');
  }
  return value as Record<string, unknown>;
}

/**
 * Validates a v1 event or status callback (shared spec sections 2 and 3) and normalises it.
 * Throws an {@link AppError} naming the first bad field, what was expected and what arrived.
 */
export function parseV1Callback(sdkAppId: string, query: CallbackQuery, body: Record<string, unknown>): CallbackEvent {
  if (typeof body.CallbackCommand === 'string' || query.callbackcommand !== undefined) {
    throw fieldError('UNSUPPORTED_CALLBACK', 'CallbackCommand', 'a v1 TRTC Call callback (v4 callbacks are not accepted yet)', body.CallbackCommand ?? query.callbackcommand);
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
    eventTime: seconds(b.EventTime) as number,
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
