import type { Server } from 'node:http';
import { GraphQLError, parse, specifiedRules, validate, type DocumentNode, type GraphQLSchema, type ValidationRule } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { AppError } from '../domain/app-error';
import type { Services } from '../graphql/services';
import type { AppScope } from '../domain/app-scope';
import { authenticateBearer, createLoaders, type GraphQLContext } from '../graphql/context';
import { formatError } from '../graphql/errors';
import { QUERY_LIMITS } from '../graphql/limits';
import { REVOKED, SocketKeys } from './ws-keys';
import type { LiveHub } from '../live/live-hub';

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
} as const;

export interface GraphQLWsOptions {
  readonly server: Server;
  readonly schema: GraphQLSchema;
  readonly services: Services;
  readonly hub: LiveHub;
  readonly production: boolean;
  readonly validationRules: readonly ValidationRule[];
  readonly maxSubscriptions: number;
  readonly initTimeoutMs: number;
  /** How often open connections' keys are checked again (a revoked key is closed 4403). */
  readonly keyRecheckMs: number;
}

/** Parses (with the token limit) and validates (with the query limits) one operation. */
function checkOperation(schema: GraphQLSchema, rules: readonly ValidationRule[], query: string): DocumentNode | readonly GraphQLError[] {
  let document: DocumentNode;
  try {
    document = parse(query, { maxTokens: QUERY_LIMITS.maxTokens });
  } catch (err) {
    return [err instanceof GraphQLError ? err : new GraphQLError(String(err))];
  }
  const errors = validate(schema, document, [...specifiedRules, ...rules]);
  return errors.length > 0 ? errors : document;
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

/**
 * graphql-ws on `/graphql`, sharing the HTTP server; the same keys, scopes and query limits as HTTP.
 * Parsing, validation and the key check stay in `onSubscribe`: graphql-ws's own `parse` hook would
 * close the socket on a parse error, and its `context` hook cannot answer an error to the client.
 */
export function attachGraphQLWs(opts: GraphQLWsOptions) {
  const wss = new WebSocketServer({ server: opts.server, path: '/graphql', maxPayload: 64 * 1024 });
  const format = formatError(opts.production);
  const keys = new SocketKeys(opts.services, opts.keyRecheckMs);
  let connections = 0;
  wss.on('connection', (socket) => {
    connections++;
    socket.once('close', () => connections--);
  });
  const server = useServer<Record<string, unknown>>(
    {
      schema: opts.schema,
      connectionInitWaitTimeout: opts.initTimeoutMs,
      onConnect: async (ctx) => {
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
      },
      onSubscribe: async (ctx, _id, payload) => {
        // graphql-ws has already reserved this id in ctx.subscriptions.
        if (Object.keys(ctx.subscriptions).length > opts.maxSubscriptions) {
          return [new GraphQLError(`subscriptions: expected at most ${opts.maxSubscriptions} per connection, got one more`, { extensions: { code: 'BAD_USER_INPUT' } })];
        }
        const document = checkOperation(opts.schema, opts.validationRules, payload.query);
        if (Array.isArray(document)) return document;
        const { socket } = ctx.extra;
        const scope = await scopeAtSubscribe(socket, keys, opts.services);
        if (Array.isArray(scope)) return scope;
        const onSlowConsumer = (cursor: string | null) =>
          socket.close(CLOSE_CODES.SLOW_CONSUMER, cursor ? `Slow consumer: resume with after=${cursor}` : 'Slow consumer: subscribe again');
        const contextValue: GraphQLContext = {
          scope: scope as AppScope,
          services: opts.services,
          loaders: createLoaders(scope as AppScope, opts.services, false),
          live: { hub: opts.hub, onSlowConsumer },
        };
        return { schema: opts.schema, document: document as DocumentNode, variableValues: payload.variables, operationName: payload.operationName, contextValue };
      },
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: result.errors.map((e) => format(e.toJSON(), e)) } : undefined,
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => format(e.toJSON(), e)),
    },
    wss,
  );
  return {
    get connections() {
      return connections;
    },
    async close() {
      keys.stop();
      for (const client of wss.clients) client.close(1001, 'Server shutting down');
      // Clients that do not answer the close handshake within a second are cut.
      const cut = setTimeout(() => wss.clients.forEach((client) => client.terminate()), 1000);
      await server.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      clearTimeout(cut);
    },
  };
}
