import type { Server } from 'node:http';
import { GraphQLError, parse, specifiedRules, validate, type GraphQLSchema, type ValidationRule } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { AppError } from '../domain/app-error';
import type { CallServices } from '../calls/services';
import type { AppScope } from '../domain/app-scope';
import { authenticateBearer, createLoaders, type GraphQLContext } from '../graphql/context';
import { formatError } from '../graphql/errors';
import { QUERY_LIMITS } from '../graphql/limits';
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
  readonly services: CallServices;
  readonly hub: LiveHub;
  readonly production: boolean;
  readonly validationRules: readonly ValidationRule[];
  readonly maxSubscriptions: number;
  readonly initTimeoutMs: number;
  /** How often open connections' keys are checked again (a revoked key is closed 4403). */
  readonly keyRecheckMs: number;
}

const REVOKED = 'Forbidden: the API key is unknown or revoked';

/** graphql-ws on `/graphql`, sharing the HTTP server; the same keys, scopes and query limits as HTTP. */
export function attachGraphQLWs(opts: GraphQLWsOptions) {
  const wss = new WebSocketServer({ server: opts.server, path: '/graphql', maxPayload: 64 * 1024 });
  const format = formatError(opts.production);
  let connections = 0;
  wss.on('connection', (socket) => {
    connections++;
    socket.once('close', () => {
      connections--;
      keys.delete(socket);
    });
  });
  // The key of every authenticated socket, checked again periodically: revocation reaches open sockets.
  const keys = new Map<WebSocket, string>();
  const recheck = setInterval(async () => {
    const byKey = new Map<string, WebSocket[]>();
    for (const [socket, key] of keys) byKey.set(key, [...(byKey.get(key) ?? []), socket]);
    for (const [key, sockets] of byKey) {
      const valid = await authenticateBearer(key, opts.services).then(() => true, (err) => !(err instanceof AppError));
      if (!valid) for (const socket of sockets) socket.close(CLOSE_CODES.FORBIDDEN, REVOKED);
    }
  }, opts.keyRecheckMs);
  recheck.unref();
  const server = useServer<Record<string, unknown>>(
    {
      schema: opts.schema,
      connectionInitWaitTimeout: opts.initTimeoutMs,
      onConnect: async (ctx) => {
        const authorization = ctx.connectionParams?.authorization;
        if (authorization === undefined) {
          ctx.extra.socket.close(CLOSE_CODES.UNAUTHORIZED, 'Unauthorized: send {"authorization":"Bearer <api key>"} in connection_init');
          return false;
        }
        try {
          await authenticateBearer(authorization, opts.services);
          // A socket that closed while its key was being checked must not be remembered.
          if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) return false;
          keys.set(ctx.extra.socket, String(authorization));
          return true;
        } catch (err) {
          if (!(err instanceof AppError)) ctx.extra.socket.close(CLOSE_CODES.TRY_AGAIN_LATER, 'Try again later: the database is unavailable');
          return false; // otherwise graphql-ws closes 4403 Forbidden
        }
      },
      onSubscribe: async (ctx, _id, payload) => {
        // graphql-ws has already reserved this id in ctx.subscriptions.
        if (Object.keys(ctx.subscriptions).length > opts.maxSubscriptions) {
          return [new GraphQLError(`subscriptions: expected at most ${opts.maxSubscriptions} per connection, got one more`, { extensions: { code: 'BAD_USER_INPUT' } })];
        }
        let document;
        try {
          document = parse(payload.query, { maxTokens: QUERY_LIMITS.maxTokens });
        } catch (err) {
          return [err instanceof GraphQLError ? err : new GraphQLError(String(err))];
        }
        const errors = validate(opts.schema, document, [...specifiedRules, ...opts.validationRules]);
        if (errors.length > 0) return errors;
        const socket = ctx.extra.socket;
        let scope: AppScope;
        try {
          scope = await authenticateBearer(keys.get(socket), opts.services); // the key may have been revoked since connection_init
        } catch (err) {
          if (!(err instanceof AppError)) {
            return [new GraphQLError('database: expected to check the API key, got an error; retry later', { extensions: { code: 'SERVICE_UNAVAILABLE' } })];
          }
          socket.close(CLOSE_CODES.FORBIDDEN, REVOKED);
          return [new GraphQLError(err.message, { extensions: { code: 'UNAUTHENTICATED' } })];
        }
        const contextValue: GraphQLContext = {
          scope,
          services: opts.services,
          loaders: createLoaders(scope, opts.services, false),
          live: {
            hub: opts.hub,
            onSlowConsumer: (cursor) =>
              socket.close(CLOSE_CODES.SLOW_CONSUMER, cursor ? `Slow consumer: resume with after=${cursor}` : 'Slow consumer: subscribe again'),
          },
        };
        return { schema: opts.schema, document, variableValues: payload.variables, operationName: payload.operationName, contextValue };
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
      clearInterval(recheck);
      for (const client of wss.clients) client.close(1001, 'Server shutting down');
      // Clients that do not answer the close handshake within a second are cut.
      const cut = setTimeout(() => wss.clients.forEach((client) => client.terminate()), 1000);
      await server.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      clearTimeout(cut);
    },
  };
}
