import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { NoSchemaIntrospectionCustomRule, type ValidationRule } from 'graphql';

/** Query limits, shared by HTTP queries and WebSocket subscriptions. */
export const QUERY_LIMITS = {
  maxDepth: 10,
  maxAliases: 20,
  maxCost: 100000,
  maxTokens: 2000,
  maxDirectives: 20,
} as const;

/** GRAPHQL_MAX_COST's default, for callers that pass no limit. */
export const DEFAULT_MAX_ROW_COST = 20000;

/** The query limits built once for HTTP and WebSocket: armor's rules and plugins, and the row cost limit. */
export interface QueryLimiter {
  readonly plugins: ApolloServerPlugin[];
  readonly validationRules: ValidationRule[];
  /** Largest estimated rows of one operation, with its variables (`src/graphql/cost.ts`). */
  readonly maxCost: number;
}

/**
 * graphql-armor protections: depth, aliases, directives; suggestions off in production. Armor's own cost
 * (fields weighted by depth, multiplied by literal `first`/`last` only) stays as a coarse static bound;
 * the limit that reads variables is `maxCost`, checked once the operation is resolved (`checkCost`).
 */
export function createArmor(production: boolean, maxCost: number = DEFAULT_MAX_ROW_COST): QueryLimiter {
  const armor = new ApolloArmor({
    maxDepth: { n: QUERY_LIMITS.maxDepth },
    maxAliases: { n: QUERY_LIMITS.maxAliases },
    costLimit: { maxCost: QUERY_LIMITS.maxCost },
    // Tokens are limited by graphql's own parser (parseOptions.maxTokens), which Apollo answers 400;
    // armor's token plugin throws from a hook, which Apollo answers 500.
    maxTokens: { enabled: false },
    maxDirectives: { n: QUERY_LIMITS.maxDirectives },
    blockFieldSuggestion: { enabled: production },
  }).protect();
  return { plugins: armor.plugins, validationRules: armor.validationRules, maxCost };
}

/**
 * The validation rules of WebSocket operations. Apollo turns introspection off over HTTP in production;
 * graphql-ws executes queries too, so the same rule is needed there.
 */
export function webSocketRules(rules: readonly ValidationRule[], production: boolean): readonly ValidationRule[] {
  return production ? [...rules, NoSchemaIntrospectionCustomRule] : rules;
}
