import fastifyApollo from '@as-integrations/fastify';
import type { ApolloServer } from '@apollo/server';
import type { FastifyInstance } from 'fastify';
import type { Services } from '../graphql/services';
import { AppError } from '../domain/app-error';
import { createContext, type GraphQLContext } from '../graphql/context';
import { toGraphQLError } from '../graphql/errors';

/** `/graphql` over HTTP: every operation needs `Authorization: Bearer <api key>`. */
export async function graphqlRoutes(app: FastifyInstance, opts: { apollo: ApolloServer<GraphQLContext>; services: Services }) {
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
