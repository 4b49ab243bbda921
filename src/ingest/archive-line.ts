import { AppError, describeValue } from '../domain/app-error';
import type { IngestRequest } from './ingest.service';
import type { CallbackQuery } from './trtc-v1.schema';

/** How lines without a query string are read: the SDKAppID they belong to (`--app`), if given. */
export interface ArchiveLineOptions {
  readonly app: string | null;
  /** The `source` the requests are recorded with. */
  readonly source: string;
}

const SHAPE = '{"query": "<query string>", "body": <JSON body or string>}, or a bare callback body with --app';

/** Query parameters with lower-cased names, the first of each name kept (as the callback route reads them). */
export function callbackQuery(queryString: string): CallbackQuery {
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(queryString)) query[k.toLowerCase()] ??= v;
  return query;
}

/** The URL `command` Tencent sends with a v1 body: `<role>_<Event>`, or the result word of a status callback. */
export function v1Command(body: Record<string, unknown>): string {
  const event = typeof body.Event === 'string' ? body.Event : '';
  if (event === '') return typeof body.CallResult === 'string' && body.CallResult !== '' ? body.CallResult : 'call_end';
  const role = String(body.Role ?? '').toLowerCase();
  return role === 'caller' || role === 'callee' ? `${role}_${event}` : event;
}

/** The query string Tencent would have sent with `body` for the app `app` (docs/trtc-callbacks.md, sections 2 and 5). */
export function queryFor(app: string, body: unknown): string {
  const b = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  if (typeof b.CallbackCommand === 'string') return new URLSearchParams({ SdkAppid: app, CallbackCommand: b.CallbackCommand, contenttype: 'json' }).toString();
  return new URLSearchParams({ sdkappid: app, command: v1Command(b), contenttype: 'json' }).toString();
}

/** A query given as text (`a=1&b=2`, `?a=1`, `/callback?a=1`, a whole URL) or as an object of parameters. */
function queryText(query: unknown): string | null {
  if (typeof query === 'string') return query.includes('?') ? query.slice(query.indexOf('?') + 1) : query;
  if (query === null || typeof query !== 'object' || Array.isArray(query)) return null;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== null && v !== undefined) params.append(k, String(v));
  return params.toString();
}

function parseLine(line: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new AppError('INVALID_JSON', `line: expected JSON, ${SHAPE}, got ${describeValue(line)}`, 'line');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new AppError('INVALID_JSON', `line: expected a JSON object, ${SHAPE}, got ${describeValue(value)}`, 'line');
  }
  return value as Record<string, unknown>;
}

/**
 * Reads one line of an archive as the request it was: `{"query", "body"}` (the body as JSON or as
 * the text that was sent; `url` is accepted for `query`), or a bare v1/v4 body, whose query is
 * rebuilt for the app `--app`. An `--app` also fills in a query that names no app.
 */
export function readArchiveLine(line: string, options: ArchiveLineOptions): IngestRequest {
  const value = parseLine(line);
  const wrapped = 'body' in value;
  const body = wrapped ? value.body : value;
  let queryString = wrapped ? queryText(value.query ?? value.url) : null;
  if (wrapped && (value.query ?? value.url) !== undefined && queryString === null) {
    throw new AppError('INVALID_FIELD', `query: expected a query string or an object of parameters, got ${describeValue(value.query ?? value.url)}`, 'query');
  }
  if (queryString === null) {
    if (options.app === null) throw new AppError('INVALID_FIELD', `query: expected ${SHAPE}, got a line with no query string`, 'query');
    queryString = queryFor(options.app, body);
  } else if (options.app !== null && callbackQuery(queryString).sdkappid === undefined) {
    queryString = `${new URLSearchParams({ sdkappid: options.app })}&${queryString}`;
  }
  if (body === undefined || body === null) throw new AppError('INVALID_FIELD', `body: expected the callback body, got ${describeValue(body)}`, 'body');
  const rawBody = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return { query: callbackQuery(queryString), queryString, rawBody, bodyBytes: rawBody.length, contentEncoding: null, source: options.source };
}
