import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type AppErrorCode } from '../domain/app-error';
import { maskQueryValue } from '../domain/secrets';
import type { IngestRequest, IngestService } from '../ingest/ingest.service';
import type { Metrics } from './metrics';

/** Bodies up to this size are read, so a too-large one can still be kept (truncated) in quarantine. */
const READ_LIMIT = 1024 * 1024;

const OK = { ActionStatus: 'OK', ErrorCode: 0, ErrorInfo: '', ErrorMessage: 'Success' } as const;

/** HTTP status and Tencent `ErrorCode` of each refusal. Non-200 makes Tencent retry (docs/trtc-callbacks.md, section 4). */
const REPLY: Partial<Record<AppErrorCode, [status: number, errorCode: number]>> = {
  INVALID_JSON: [400, 4001],
  INVALID_FIELD: [400, 4002],
  UNSUPPORTED_CALLBACK: [400, 4003],
  BAD_TOKEN: [401, 4010],
  BAD_SIGNATURE: [401, 4011],
  UNKNOWN_APP: [403, 4030],
  BODY_TOO_LARGE: [413, 4130],
  UNSUPPORTED_ENCODING: [415, 4150],
  CALL_TOO_LARGE: [422, 4220],
  EVENT_EXPIRED: [422, 4221],
  EVENT_AHEAD: [422, 4222],
  UNAVAILABLE: [503, 5030],
};

function toIngestRequest(req: FastifyRequest, body: Buffer, bodyBytes = body.length): IngestRequest {
  const queryString = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
  const query: Record<string, string> = {};
  // A value such as `1;token=…` is echoed in refusals and stored in fields: its secret is masked.
  for (const [k, v] of new URLSearchParams(queryString)) query[k.toLowerCase()] ??= maskQueryValue(k, v);
  const encoding = req.headers['content-encoding'];
  return { query, queryString, rawBody: body, bodyBytes, contentEncoding: encoding === undefined ? null : String(encoding), source: req.ip };
}

/** Answers a callback: 200 with the envelope both generations accept, or the refusal. */
async function answer(reply: FastifyReply, ingest: IngestService, request: IngestRequest, metrics: Metrics): Promise<FastifyReply> {
  try {
    metrics.callbacks.inc({ outcome: await ingest.receive(request) });
    return reply.code(200).send(OK);
  } catch (err) {
    if (err instanceof AppError) return sendError(reply, err, metrics);
    throw err;
  }
}

function sendError(reply: FastifyReply, err: AppError, metrics: Metrics): FastifyReply {
  const [status, errorCode] = REPLY[err.code] ?? [500, 5000];
  metrics.callbacks.inc({ outcome: err.code });
  if (status === 503) reply.header('Retry-After', '1');
  return reply.code(status).send({
    ActionStatus: 'FAIL',
    ErrorCode: errorCode,
    ErrorInfo: err.message,
    ErrorMessage: err.message,
    code: err.code,
    field: err.field,
  });
}

/** `POST <CALLBACK_PATH>`: every callback body is read raw and parsed as JSON, whatever its Content-Type. */
export async function callbackRoutes(app: FastifyInstance, opts: { path: string; ingest: IngestService; metrics: Metrics }) {
  const { ingest, metrics } = opts;
  // Every body is read raw, so the Content-Type does not matter; one Fastify cannot parse
  // (`json`, empty) must not fail the request before it reaches us.
  app.addHook('onRequest', async (req) => {
    req.headers['content-type'] = 'application/octet-stream';
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: READ_LIMIT }, (_req, body, done) => done(null, body));

  app.setErrorHandler(async (error: { code?: string }, req, reply) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      // Not read at all: the service refuses it on its declared size.
      const declared = Math.max(Number(req.headers['content-length'] ?? 0) || 0, READ_LIMIT + 1);
      return answer(reply, ingest, toIngestRequest(req, Buffer.alloc(0), declared), metrics);
    }
    req.log.error({ err: error }, 'callback failed');
    return sendError(reply, new AppError('UNAVAILABLE', 'server: expected to handle the callback, got an internal error; retry later'), metrics);
  });

  app.post(opts.path, { bodyLimit: READ_LIMIT }, async (req, reply) =>
    answer(reply, ingest, toIngestRequest(req, Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)), metrics),
  );
}
