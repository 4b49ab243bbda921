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
 * Valid documents by query text, the least recently used dropped past `max`: a thousand consoles sending
 * the same subscription (with their own variables) parse and validate it once, and hold one document.
 */
export class ValidDocuments {
  private readonly documents = new Map<string, DocumentNode>();

  constructor(private readonly max = 500) {}

  get(query: string): DocumentNode | undefined {
    const document = this.documents.get(query);
    if (document !== undefined) {
      this.documents.delete(query);
      this.documents.set(query, document);
    }
    return document;
  }

  add(query: string, document: DocumentNode): void {
    this.documents.set(query, document);
    if (this.documents.size > this.max) this.documents.delete(this.documents.keys().next().value!);
  }
}

/**
 * Parses (with the token limit), validates (with the query limits) and estimates the rows of one
 * operation with its variables: the document to execute, or the errors for the client. HTTP gets the
 * same checks from Apollo (parseOptions, validationRules, didResolveOperation). With `known`, a query
 * text already found valid is not parsed or validated again; its cost is, with the new variables.
 */
export function checkOperation(schema: GraphQLSchema, rules: readonly ValidationRule[], maxCost: number, op: OperationRequest, known?: ValidDocuments): DocumentNode | readonly GraphQLError[] {
  let document = known?.get(op.query);
  if (document === undefined) {
    try {
      document = parse(op.query, { maxTokens: QUERY_LIMITS.maxTokens });
    } catch (err) {
      return [err instanceof GraphQLError ? err : new GraphQLError(String(err))];
    }
    const errors = validate(schema, document, [...specifiedRules, ...rules]);
    if (errors.length > 0) return errors;
    known?.add(op.query, document);
  }
  const tooCostly = checkCost(schema, document, op.operationName, op.variables, maxCost);
  return tooCostly ? [tooCostly] : document;
}
