import fastifyApollo from '@as-integrations/fastify';
import type { ApolloServer } from '@apollo/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../graphql/services';
import { AppError } from '../domain/app-error';
import { createContext, type GraphQLContext } from '../graphql/context';
import { toGraphQLError } from '../graphql/errors';
import { bearerKey, DEFAULT_MAX_CONCURRENCY_PER_KEY, InFlightPerKey } from '../graphql/in-flight';

export interface GraphQLRouteOptions {
  readonly apollo: ApolloServer<GraphQLContext>;
  readonly services: Services;
  /** Operations in flight per API key on this replica (GRAPHQL_MAX_CONCURRENCY_PER_KEY), shared with WebSocket queries. */
  readonly inFlight?: InFlightPerKey;
}

/**
 * Counts the request against its key from its first byte (a body still arriving holds a slot too) until
 * the response is sent or the client goes away: `close` on the response fires in both cases.
 */
function limitPerKey(limit: InFlightPerKey) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const key = bearerKey(request.headers.authorization);
    if (key === null) return; // no key: refused 401 without reading anything
    const release = limit.acquire(key);
    if (release) {
      reply.raw.once('close', release);
      return;
    }
    return reply
      .code(429)
      .header('retry-after', '1')
      .send({ errors: [{ message: limit.refusal, extensions: { code: 'RATE_LIMITED', maxConcurrency: limit.max } }] });
  };
}

/** `/graphql` over HTTP: every operation needs `Authorization: Bearer <api key>`. */
export async function graphqlRoutes(app: FastifyInstance, opts: GraphQLRouteOptions) {
  // Hooks of this (encapsulated) plugin apply to the Apollo routes registered below, and to nothing else.
  app.addHook('onRequest', limitPerKey(opts.inFlight ?? new InFlightPerKey(DEFAULT_MAX_CONCURRENCY_PER_KEY)));
  await app.register(fastifyApollo(opts.apollo), {
    path: '/graphql',
    context: async (request) => {
      try {
        return await createContext(request.headers.authorization, opts.services);
      } catch (err) {
        throw err instanceof AppError ? toGraphQLError(err) : err;
      }
    },
  });
}
