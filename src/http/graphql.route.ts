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
  /** GraphQL HTTP requests one API key may have in flight on this replica (GRAPHQL_MAX_CONCURRENCY_PER_KEY). */
  readonly maxConcurrencyPerKey?: number;
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
    const message = `concurrency: expected at most ${limit.max} GraphQL requests in flight per API key on this server, got one more; retry after 1 s`;
    return reply
      .code(429)
      .header('retry-after', '1')
      .send({ errors: [{ message, extensions: { code: 'RATE_LIMITED', maxConcurrency: limit.max } }] });
  };
}

/** `/graphql` over HTTP: every operation needs `Authorization: Bearer <api key>`. */
export async function graphqlRoutes(app: FastifyInstance, opts: GraphQLRouteOptions) {
  // Hooks of this (encapsulated) plugin apply to the Apollo routes registered below, and to nothing else.
  app.addHook('onRequest', limitPerKey(new InFlightPerKey(opts.maxConcurrencyPerKey ?? DEFAULT_MAX_CONCURRENCY_PER_KEY)));
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
