import { GraphQLError, parse, specifiedRules, validate, type DocumentNode, type GraphQLSchema, type ValidationRule } from 'graphql';
import { checkCost } from './cost';
import { QUERY_LIMITS } from './limits';

/** An operation as a WebSocket client sends it. */
export interface OperationRequest {
  readonly query: string;
  readonly operationName?: string | null;
  readonly variables?: Record<string, unknown> | null;
}

/**
 * Parses (with the token limit), validates (with the query limits) and estimates the rows of one
 * operation with its variables: the document to execute, or the errors for the client. HTTP gets the
 * same checks from Apollo (parseOptions, validationRules, didResolveOperation).
 */
export function checkOperation(schema: GraphQLSchema, rules: readonly ValidationRule[], maxCost: number, op: OperationRequest): DocumentNode | readonly GraphQLError[] {
  let document: DocumentNode;
  try {
    document = parse(op.query, { maxTokens: QUERY_LIMITS.maxTokens });
  } catch (err) {
    return [err instanceof GraphQLError ? err : new GraphQLError(String(err))];
  }
  const errors = validate(schema, document, [...specifiedRules, ...rules]);
  if (errors.length > 0) return errors;
  const tooCostly = checkCost(schema, document, op.operationName, op.variables, maxCost);
  return tooCostly ? [tooCostly] : document;
}
