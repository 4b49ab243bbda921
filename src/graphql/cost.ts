import {
  getArgumentValues,
  getDirectiveValues,
  getNamedType,
  getNullableType,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  isCompositeType,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
} from 'graphql';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../db/pagination';

/** Rows assumed for a list without a page size (`Call.participants`, `Call.events`). */
export const UNPAGED_LIST_ROWS = 10;

/**
 * Fields that aggregate every row their filter matches, priced as that scan, not as the few rows they
 * return, on whatever type they appear (docs/api.md, "Query limits", has the measurements behind them).
 */
export const AGGREGATE_COST: ReadonlyMap<string, number> = new Map([
  ['callStats', 2000],
  ['totalCount', 500],
]);

/** What one estimate walks: the schema, the document's fragments, the coerced variables. */
interface Walk {
  readonly schema: GraphQLSchema;
  readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>;
  readonly variables: Record<string, unknown>;
  /** Fragment costs by name and page: a chain of fragments spreading the next one twice stays linear. */
  readonly memo: Map<string, number>;
}

/**
 * The rows an operation may read, with its variables: every object counts 1, a list counts its page
 * size (`first`/`last` of the connection above it, default 50, at most 500) or UNPAGED_LIST_ROWS times
 * its objects. Scalars cost nothing (they come with their row), except the aggregates of AGGREGATE_COST,
 * which cost their price each time they are selected. Skipped (`@skip`/`@include`) parts cost
 * nothing. `null` when the variables do not coerce: execution then refuses them before reading anything.
 */
export function estimateCost(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, rawVariables: Record<string, unknown> | null | undefined): number | null {
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], rawVariables ?? {});
  if (coerced.errors) return null;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const root = schema.getRootType(operation.operation);
  if (!root) return 0;
  return selectionSetCost({ schema, fragments, variables: coerced.coerced, memo: new Map() }, root, operation.selectionSet, null);
}

function selectionSetCost(walk: Walk, parent: GraphQLNamedType, set: SelectionSetNode, page: number | null): number {
  let cost = 0;
  for (const selection of set.selections) cost += selectionCost(walk, parent, selection, page);
  return cost;
}

function selectionCost(walk: Walk, parent: GraphQLNamedType, selection: SelectionNode, page: number | null): number {
  if (!included(walk, selection)) return 0;
  switch (selection.kind) {
    case Kind.FIELD:
      return fieldCost(walk, parent, selection, page);
    case Kind.INLINE_FRAGMENT: {
      const type = selection.typeCondition ? walk.schema.getType(selection.typeCondition.name.value) : parent;
      return type ? selectionSetCost(walk, type, selection.selectionSet, page) : 0;
    }
    case Kind.FRAGMENT_SPREAD: {
      const key = `${selection.name.value}:${page}`;
      const known = walk.memo.get(key);
      if (known !== undefined) return known;
      const fragment = walk.fragments.get(selection.name.value);
      const type = fragment && walk.schema.getType(fragment.typeCondition.name.value);
      const cost = fragment && type ? selectionSetCost(walk, type, fragment.selectionSet, page) : 0;
      walk.memo.set(key, cost);
      return cost;
    }
  }
}

/** A field's objects times one plus what is selected in each; a list multiplies by its rows. */
function fieldCost(walk: Walk, parent: GraphQLNamedType, node: FieldNode, parentPage: number | null): number {
  const field = isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[node.name.value] : undefined;
  const aggregate = field && AGGREGATE_COST.get(field.name);
  if (aggregate !== undefined) return aggregate;
  const type = field && getNamedType(field.type);
  if (!field || !type || !isCompositeType(type) || !node.selectionSet) return 0; // scalars, enums, __typename, introspection
  const ownPage = pageSize(walk, field, node);
  const list = isListType(getNullableType(field.type));
  // A connection's page size applies to its `edges` list, one level down.
  const rows = list ? (ownPage ?? parentPage ?? UNPAGED_LIST_ROWS) : 1;
  return rows * (1 + selectionSetCost(walk, type, node.selectionSet, list ? null : ownPage));
}

/** `first`/`last` with the variables, clamped to what the API serves; null for fields without them. */
function pageSize(walk: Walk, field: GraphQLField<unknown, unknown>, node: FieldNode): number | null {
  if (!field.args.some((a) => a.name === 'first' || a.name === 'last')) return null;
  let args: Record<string, unknown> = {};
  try {
    args = getArgumentValues(field, node, walk.variables);
  } catch {
    // Unreachable after validation; if it were reached, the default page is still counted.
  }
  const sizes = [args.first, args.last].filter((v): v is number => typeof v === 'number');
  // Past MAX_PAGE_SIZE the page is refused (BAD_USER_INPUT) before any row is read.
  return sizes.length === 0 ? DEFAULT_PAGE_SIZE : Math.min(MAX_PAGE_SIZE, Math.max(0, ...sizes));
}

function included(walk: Walk, node: SelectionNode): boolean {
  if (getDirectiveValues(GraphQLSkipDirective, node, walk.variables)?.if === true) return false;
  return getDirectiveValues(GraphQLIncludeDirective, node, walk.variables)?.if !== false;
}

/**
 * The refusal of an operation estimated above `maxCost`, or null. For a validated document; an
 * operation that cannot be identified is left to the executor, which refuses it.
 */
export function checkCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode | string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
  maxCost: number,
): GraphQLError | null {
  const op = typeof operation === 'object' && operation !== null ? operation : getOperationAST(document, operation);
  if (!op) return null;
  const cost = estimateCost(schema, document, op, variables);
  if (cost === null || cost <= maxCost) return null;
  return new GraphQLError(
    `query cost: expected at most ${maxCost} rows (page sizes times nested lists, with the variables), got an estimated ${cost}; ask for smaller pages (first/last) or fewer nested lists`,
    { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', cost, maxCost } },
  );
}
