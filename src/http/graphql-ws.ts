import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import { GraphQLError, type DocumentNode, type GraphQLSchema, type ValidationRule } from 'graphql';
import { CloseCode, handleProtocols, makeServer, type Server, type ServerOptions } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { AppError } from '../domain/app-error';
import type { Services } from '../graphql/services';
import type { AppScope } from '../domain/app-scope';
import { authenticateBearer, createLoaders, type GraphQLContext, type Loaders } from '../graphql/context';
import { formatError } from '../graphql/errors';
import { DEFAULT_MAX_ROW_COST, webSocketRules } from '../graphql/limits';
import { ValidDocuments, checkOperation } from '../graphql/operation-check';
import { DEFAULT_MAX_CONCURRENCY_PER_KEY, InFlightPerKey } from '../graphql/in-flight';
import { REVOKED, SocketKeys } from './ws-keys';
import { WsInFlight } from './ws-in-flight';
import type { LiveHub } from '../live/live-hub';
import type { LiveOutbox } from '../live/live-outbox';
import { nextMessageWriter, wsWire } from './live-wire';

/** WebSocket close codes of calltrail (4400–4499 are graphql-ws's own). */
export const CLOSE_CODES = {
  /** No `authorization` in `connection_init`. */
  UNAUTHORIZED: 4401,
  /** An unknown or revoked key. */
  FORBIDDEN: 4403,
  /** No `connection_init` in time (graphql-ws). */
  INIT_TIMEOUT: 4408,
  /** The subscriber fell more than LIVE_QUEUE_MAX events behind; the reason carries the resume cursor. */
  SLOW_CONSUMER: 4290,
  /** The key could not be checked (database unavailable): reconnect later. */
  TRY_AGAIN_LATER: 1013,
  /** A message larger than MAX_MESSAGE_BYTES (the WebSocket standard's code). */
  TOO_BIG: 1009,
} as const;

/** Largest WebSocket message a client may send. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** Ping interval; a socket that has not answered the previous ping is cut (graphql-ws's own default). */
const KEEP_ALIVE_MS = 12_000;

/** Where socket errors go: the app's pino logger, one JSON line each. */
export type WsLogger = Pick<FastifyBaseLogger, 'warn' | 'error'>;
const SILENT: WsLogger = { warn: () => undefined, error: () => undefined };

export interface GraphQLWsOptions {
  readonly server: HttpServer;
  readonly schema: GraphQLSchema;
  readonly services: Services;
  readonly hub: LiveHub;
  readonly production: boolean;
  readonly validationRules: readonly ValidationRule[];
  readonly maxSubscriptions: number;
  readonly initTimeoutMs: number;
  /** How often open connections' keys are checked again (a revoked key is closed 4403). */
  readonly keyRecheckMs: number;
  /** Largest estimated rows of one operation, with its variables (GRAPHQL_MAX_COST). */
  readonly maxCost?: number;
  /** Where socket errors are logged (the app's `server.log`); silent when absent. */
  readonly logger?: WsLogger;
  /** Operations in flight per API key (GRAPHQL_MAX_CONCURRENCY_PER_KEY): the instance GraphQL over HTTP counts with. */
  readonly inFlight?: InFlightPerKey;
  /** Called for each socket closed 4290 (slow consumer), for metrics. */
  readonly onSlowConsumer?: () => void;
}

/** What graphql-ws keeps in each context's `extra`. */
interface Extra {
  readonly socket: WebSocket;
  readonly request: IncomingMessage;
  /** The socket's live messages, written in batches (src/live/live-outbox.ts). */
  readonly outbox: LiveOutbox<Buffer>;
}

/** The scope of the socket's key, checked again at every subscribe; errors for the client otherwise. */
async function scopeAtSubscribe(socket: WebSocket, keys: SocketKeys, services: Services): Promise<AppScope | readonly GraphQLError[]> {
  try {
    return await authenticateBearer(keys.keyOf(socket), services);
  } catch (err) {
    if (!(err instanceof AppError)) {
      return [new GraphQLError('database: expected to check the API key, got an error; retry later', { extensions: { code: 'SERVICE_UNAVAILABLE' } })];
    }
    socket.close(CLOSE_CODES.FORBIDDEN, REVOKED);
    return [new GraphQLError(err.message, { extensions: { code: 'UNAUTHENTICATED' } })];
  }
}

/** The key check of `connection_init`: 4401 without a key, 4403 for a bad one, 1013 when it cannot be checked. */
function onConnect(opts: GraphQLWsOptions, keys: SocketKeys): ServerOptions<Record<string, unknown>, Extra>['onConnect'] {
  return async (ctx) => {
    const { socket } = ctx.extra;
    const authorization = ctx.connectionParams?.authorization;
    if (authorization === undefined) {
      socket.close(CLOSE_CODES.UNAUTHORIZED, 'Unauthorized: send {"authorization":"Bearer <api key>"} in connection_init');
      return false;
    }
    try {
      await authenticateBearer(authorization, opts.services);
    } catch (err) {
      if (!(err instanceof AppError)) socket.close(CLOSE_CODES.TRY_AGAIN_LATER, 'Try again later: the database is unavailable');
      return false; // otherwise graphql-ws closes 4403 Forbidden
    }
    // A socket that closed while its key was being checked must not be remembered.
    if (socket.readyState !== socket.OPEN) return false;
    keys.remember(socket, String(authorization));
    return true;
  };
}

/**
 * Each operation: the subscription count, then parsing, validation and the row cost (with its variables),
 * then the key again, then a slot of the key's in-flight limit for a query. These stay in `onSubscribe`:
 * graphql-ws's own `parse` hook would close the socket on a parse error, and its `context` hook cannot
 * answer an error to the client.
 */
function onSubscribe(opts: GraphQLWsOptions, keys: SocketKeys, inFlight: WsInFlight): ServerOptions<Record<string, unknown>, Extra>['onSubscribe'] {
  const rules = webSocketRules(opts.validationRules, opts.production);
  const maxCost = opts.maxCost ?? DEFAULT_MAX_ROW_COST;
  const format = formatError(opts.production);
  const formatOne = (e: GraphQLError) => format(e.toJSON(), e);
  const known = new ValidDocuments();
  return async (ctx, id, payload) => {
    // graphql-ws has already reserved this id in ctx.subscriptions.
    if (Object.keys(ctx.subscriptions).length > opts.maxSubscriptions) {
      return [new GraphQLError(`subscriptions: expected at most ${opts.maxSubscriptions} per connection, got one more`, { extensions: { code: 'BAD_USER_INPUT' } })];
    }
    const document = checkOperation(opts.schema, rules, maxCost, payload, known);
    if (Array.isArray(document)) return document;
    const { socket } = ctx.extra;
    const scope = await scopeAtSubscribe(socket, keys, opts.services);
    if (Array.isArray(scope)) return scope;
    const onSlowConsumer = (cursor: string | null) => {
      opts.onSlowConsumer?.();
      socket.close(CLOSE_CODES.SLOW_CONSUMER, cursor ? `Slow consumer: resume with after=${cursor}` : 'Slow consumer: subscribe again');
    };
    let loaders: Loaders | undefined; // built when used: by a query over WebSocket, not by a subscription (its executions have their own)
    const contextValue: GraphQLContext = {
      scope: scope as AppScope,
      services: opts.services,
      get loaders() {
        return (loaders ??= createLoaders(scope as AppScope, opts.services, false));
      },
      live: { hub: opts.hub, onSlowConsumer, outlet: ctx.extra.outbox.outlet(nextMessageWriter(socket, id)), formatError: formatOne },
    };
    const limited = inFlight.admit(keys.keyOf(socket), document as DocumentNode, payload.operationName, contextValue);
    if (limited) return [limited];
    return { schema: opts.schema, document: document as DocumentNode, variableValues: payload.variables, operationName: payload.operationName, contextValue };
  };
}

/**
 * graphql-ws's `use/ws` adapter prints any socket error with console.error (a multi-line stack outside
 * the JSON logs) from a `once('error')` listener it adds to every socket, where we cannot reach it
 * without patching the socket. So we drive graphql-ws's transport-independent `makeServer` ourselves,
 * the way that adapter does (same keep-alive, same send back-pressure), and own the error paths: one
 * JSON line through the app's logger, and the close code the error calls for. For a message over
 * MAX_MESSAGE_BYTES, ws has already started closing with 1009 when it reports the error.
 */
function serveSocket(server: Server<Extra>, socket: WebSocket, request: IncomingMessage, logger: WsLogger, hub: LiveHub): void {
  socket.on('error', (err: Error & { code?: string }) => {
    const tooBig = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
    logger.warn({ err, code: err.code }, tooBig ? `WebSocket message over ${MAX_MESSAGE_BYTES} bytes; socket closed 1009` : 'WebSocket error; socket closed');
    socket.close(tooBig ? CLOSE_CODES.TOO_BIG : CloseCode.InternalServerError, tooBig ? 'Message too big' : 'Internal server error');
  });
  const outbox = hub.outbox<Buffer>(wsWire(socket));
  let alive = true;
  socket.on('pong', () => (alive = true));
  const keepAlive = setInterval(() => {
    // A closing socket (e.g. cut 4290 while its client is not reading) keeps ws's own close timeout
    // (30 s), so a client that reads again still gets the close code and its resume cursor.
    if (!alive && socket.readyState === socket.OPEN) return socket.terminate();
    alive = false;
    if (socket.readyState === socket.OPEN) socket.ping();
  }, KEEP_ALIVE_MS);
  const closed = server.opened(
    {
      protocol: socket.protocol,
      send: (data) =>
        new Promise<void>((resolve, reject) => {
          if (socket.readyState !== socket.OPEN) return resolve();
          socket.send(data, (err) => (err ? reject(err) : resolve()));
        }),
      close: (code, reason) => socket.close(code, reason),
      onMessage: (handle) =>
        socket.on('message', (data) => {
          handle(String(data)).catch((err: unknown) => {
            logger.error({ err }, 'graphql-ws failed to handle a message; socket closed');
            socket.close(CloseCode.InternalServerError, 'Internal server error');
          });
        }),
    },
    { socket, request, outbox },
  );
  socket.once('close', (code, reason) => {
    clearInterval(keepAlive);
    outbox.close();
    closed(code, String(reason)).catch((err: unknown) => logger.error({ err }, 'graphql-ws failed to clean up a closed socket'));
  });
}

/** graphql-ws on `/graphql`, sharing the HTTP server; the same keys, scopes and query limits as HTTP. */
export function attachGraphQLWs(opts: GraphQLWsOptions) {
  const logger = opts.logger ?? SILENT;
  const wss = new WebSocketServer({ server: opts.server, path: '/graphql', maxPayload: MAX_MESSAGE_BYTES, handleProtocols: (protocols) => handleProtocols(protocols) });
  const format = formatError(opts.production);
  const keys = new SocketKeys(opts.services, opts.keyRecheckMs);
  const inFlight = new WsInFlight(opts.inFlight ?? new InFlightPerKey(DEFAULT_MAX_CONCURRENCY_PER_KEY));
  const server = makeServer<Record<string, unknown>, Extra>({
    schema: opts.schema,
    connectionInitWaitTimeout: opts.initTimeoutMs,
    onConnect: onConnect(opts, keys),
    onSubscribe: onSubscribe(opts, keys, inFlight),
    execute: inFlight.execute,
    onNext: (_ctx, _id, _payload, _args, result) => (result.errors ? { ...result, errors: result.errors.map((e) => format(e.toJSON(), e)) } : undefined),
    onError: (_ctx, _id, _payload, errors) => errors.map((e) => format(e.toJSON(), e)),
  });
  let connections = 0;
  // The HTTP server's own errors are re-emitted here; without a listener they would throw.
  wss.on('error', (err) => logger.error({ err }, 'WebSocket server error'));
  wss.on('connection', (socket, request) => {
    connections++;
    socket.once('close', () => connections--);
    serveSocket(server, socket, request, logger, opts.hub);
  });
  return {
    get connections() {
      return connections;
    },
    async close() {
      keys.stop();
      for (const client of wss.clients) client.close(1001, 'Server shutting down');
      // Clients that do not answer the close handshake within a second are cut.
      const cut = setTimeout(() => wss.clients.forEach((client) => client.terminate()), 1000);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      clearTimeout(cut);
    },
  };
}
