import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import type { GraphQLContext } from './context';
import { checkCost } from './cost';
import { formatError } from './errors';
import { QUERY_LIMITS, type QueryLimiter } from './limits';

/**
 * Refuses, once the operation is known: subscriptions (served by graphql-ws on the same path, never
 * over plain HTTP), and operations whose estimated rows, with their variables, pass `maxCost`.
 */
function operationChecks(maxCost: number): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, document, request, schema }) {
          if (operation?.operation === 'subscription') {
            throw new GraphQLError('operation: expected a query over HTTP, got a subscription; subscribe over graphql-ws (WebSocket) on /graphql', {
              extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
            });
          }
          const tooCostly = checkCost(schema, document, operation, request.variables, maxCost);
          if (tooCostly) throw new GraphQLError(tooCostly.message, { extensions: { ...tooCostly.extensions, http: { status: 400 } } });
        },
      };
    },
  };
}

/**
 * Apollo Server for `/graphql`. Production: no introspection, no landing page, no field
 * suggestions, internal errors masked. Development: the Apollo Sandbox landing page. CSRF
 * prevention is always on.
 */
export function createApolloServer(
  schema: GraphQLSchema,
  production: boolean,
  armor: QueryLimiter,
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
      operationChecks(armor.maxCost),
      // calltrail sets no cache hints and reports to no Apollo service: these would wrap every field for nothing.
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      production ? ApolloServerPluginLandingPageDisabled() : ApolloServerPluginLandingPageLocalDefault({ embed: true }),
      ...plugins,
    ],
  });
}
