import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import type { GraphQLSchema } from 'graphql';
import type { GraphQLContext } from './context';
import { formatError } from './errors';
import { createArmor, QUERY_LIMITS } from './limits';

/**
 * Apollo Server for `/graphql`. Production: no introspection, no landing page, no field
 * suggestions, internal errors masked. Development: the Apollo Sandbox landing page. CSRF
 * prevention is always on.
 */
export function createApolloServer(schema: GraphQLSchema, production: boolean, plugins: ApolloServerPlugin<GraphQLContext>[] = []) {
  const armor = createArmor(production);
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
      production ? ApolloServerPluginLandingPageDisabled() : ApolloServerPluginLandingPageLocalDefault({ embed: true }),
      ...plugins,
    ],
  });
}
