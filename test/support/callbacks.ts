/** A v1 callback body with valid defaults: Alice calls Bob (audio, one-to-one). */
export type CallbackBody = Record<string, unknown>;

export const SDKAPPID = '1400000001';
export const T0 = 1_704_695_566;

export function makeCallback(over: CallbackBody = {}): CallbackBody {
  return {
    UserId: 'Alice',
    RoomId: "Alice's Room",
    TotalNum: 2,
    MediaType: 'audio',
    CallType: 'single',
    CallId: 'call-1',
    Role: 'caller',
    Event: 'start_call',
    CallResult: '',
    EventTime: T0,
    ...over,
  };
}

/** A status callback (no `Event`). */
export function makeStatusCallback(over: CallbackBody = {}): CallbackBody {
  const body = makeCallback({ CallResult: 'normal_end', ...over });
  delete body.Event;
  return body;
}

/** The URL `command` of a body: `<role>_<event>`, or the result word for a status callback. */
export function commandOf(body: CallbackBody): string {
  if (typeof body.Event === 'string' && body.Event !== '') {
    const role = String(body.Role ?? '').toLowerCase();
    return role === 'caller' || role === 'callee' ? `${role}_${body.Event}` : String(body.Event);
  }
  return String(body.CallResult ?? 'call_end');
}

export interface PostOptions {
  readonly sdkAppId?: string;
  readonly query?: Record<string, string>;
  readonly contentType?: string;
  readonly rawBody?: string | Buffer;
  readonly headers?: Record<string, string>;
}

/** Posts a callback the way Tencent does; returns status, parsed reply and headers. */
export async function postCallback(baseUrl: string, body: CallbackBody, opts: PostOptions = {}) {
  const query = new URLSearchParams({
    sdkappid: opts.sdkAppId ?? SDKAPPID,
    command: commandOf(body),
    contenttype: 'json',
    clientip: '127.0.0.1',
    optplatform: 'iOS',
    ...opts.query,
  });
  return postRaw(baseUrl, query, body, opts);
}

/** POSTs a body to the callback route with `query`; returns status, parsed reply (or `{ text }`) and headers. */
export async function postRaw(baseUrl: string, query: URLSearchParams, body: CallbackBody, opts: PostOptions = {}) {
  const res = await fetch(`${baseUrl}/callback?${query}`, {
    method: 'POST',
    headers: { 'content-type': opts.contentType ?? 'application/json', ...opts.headers },
    body: opts.rawBody ?? JSON.stringify(body),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: res.status, body: json, headers: res.headers };
}

export const OK_REPLY = { ActionStatus: 'OK', ErrorCode: 0, ErrorInfo: '', ErrorMessage: 'Success' };
