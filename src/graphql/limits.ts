import { ApolloArmor } from '@escape.tech/graphql-armor';

/** Query limits, shared by HTTP queries and WebSocket subscriptions. */
export const QUERY_LIMITS = {
  maxDepth: 10,
  maxAliases: 20,
  maxCost: 100000,
  maxTokens: 2000,
  maxDirectives: 20,
} as const;

/**
 * graphql-armor protections: depth, aliases, cost, directives; suggestions off in production. Its cost
 * multiplies by literal `first`/`last` arguments only (not variables): the page cap (500) bounds the rest.
 */
export function createArmor(production: boolean) {
  return new ApolloArmor({
    maxDepth: { n: QUERY_LIMITS.maxDepth },
    maxAliases: { n: QUERY_LIMITS.maxAliases },
    costLimit: { maxCost: QUERY_LIMITS.maxCost },
    // Tokens are limited by graphql's own parser (parseOptions.maxTokens), which Apollo answers 400;
    // armor's token plugin throws from a hook, which Apollo answers 500.
    maxTokens: { enabled: false },
    maxDirectives: { n: QUERY_LIMITS.maxDirectives },
    blockFieldSuggestion: { enabled: production },
  }).protect();
}
