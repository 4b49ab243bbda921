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

/** Integers arrive as numbers or numeric strings. */
const integer = z.union([z.number().int(), z.string().trim().regex(/^-?\d+$/).transform(Number)]);

/** Seconds from 2001 to 2060: every call time fits, and so does any difference of two (int4). */
const EARLIEST = 978_307_200;
const LATEST = 2_840_140_800;
/** Milliseconds (v4 style) are scaled to seconds. */
const toSeconds = (n: number) => (n >= 1e11 ? Math.floor(n / 1000) : n);
const time = integer.transform(toSeconds).pipe(z.number().min(EARLIEST).max(LATEST));
/** 0, empty or missing means unknown. */
const optionalTime = z.union([z.literal(0), z.literal('0'), z.literal(''), z.null(), time]).optional();
const text = z.union([z.string(), z.number().transform(String)]);
/** Ids are indexed: bounded well below PostgreSQL's index row limit. */
const id = text.pipe(z.string().trim().min(1).max(256));
const optionalText = (max: number) => z.union([text.pipe(z.string().max(max)), z.null()]).optional();
const optionalCount = z.union([integer.pipe(z.number().min(0).max(100_000)), z.literal(''), z.null()]).optional();

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

/** A parsed optional time: 0, empty or missing is unknown (`null`). */
const seconds = (value: number | string | null | undefined): number | null => (typeof value === 'number' && value > 0 ? value : null);

const blank = (v: string | null | undefined): string | null => (v === null || v === undefined || v.trim() === '' ? null : v);

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

/** Parses a raw body (whatever its Content-Type) as JSON. */
export function parseJsonBody(raw: Buffer): Record<string, unknown> {
  const textBody = raw.toString('utf8');
  if (nestingDepth(textBody) > MAX_DEPTH) {
    throw new AppError('INVALID_JSON', `body: expected JSON nested at most ${MAX_DEPTH} levels deep, got deeper`, 'body');
  }
  let value: unknown;
  try {
    value = JSON.parse(textBody);
  } catch (err) {
    throw new AppError('INVALID_JSON', `body: expected a JSON object, got invalid JSON (${(err as Error).message})`, 'body');
  }
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
  for (const name of ['command', 'clientip', 'optplatform'] as const) {
    const value = query[name];
    if (value !== undefined && value.length > 256) throw fieldError('INVALID_FIELD', name, 'a query parameter of at most 256 characters', value);
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
