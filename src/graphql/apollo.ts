import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import type { GraphQLContext } from './context';
import { formatError } from './errors';
import { QUERY_LIMITS, type createArmor } from './limits';

/**
 * Apollo Server for `/graphql`. Production: no introspection, no landing page, no field
 * suggestions, internal errors masked. Development: the Apollo Sandbox landing page. CSRF
 * prevention is always on.
 */
export function createApolloServer(
  schema: GraphQLSchema,
  production: boolean,
  armor: ReturnType<typeof createArmor>,
  plugins: ApolloServerPlugin<GraphQLContext>[] = [],
) {
  return new ApolloServer<GraphQLContext>({
    schema,
    introspection: !production,
    csrfPrevention: true,
    hideSchemaDetailsFromClientErrors: production,
    includeStacktraceInErrorResponses: false,
    allowBatchedHttpRequests: false,
    validationRules: armor.validationRules,
    parseOptions: { maxTokens: QUERY_LIMITS.maxTokens },
    formatError: formatError(production),
    plugins: [
      ...(armor.plugins as ApolloServerPlugin<GraphQLContext>[]),
      {
        // Subscriptions are served by graphql-ws on the same path, never over plain HTTP.
        async requestDidStart() {
          return {
            async didResolveOperation({ operation }) {
              if (operation?.operation === 'subscription') {
                throw new GraphQLError('operation: expected a query over HTTP, got a subscription; subscribe over graphql-ws (WebSocket) on /graphql', {
                  extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
                });
              }
            },
          };
        },
      },
      production ? ApolloServerPluginLandingPageDisabled() : ApolloServerPluginLandingPageLocalDefault({ embed: true }),
      ...plugins,
    ],
  });
}
