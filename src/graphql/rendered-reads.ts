import { HeaderMap, type ApolloServerPlugin, type GraphQLResponse } from '@apollo/server';
import {
  getArgumentValues,
  getNamedType,
  getVariableValues,
  isLeafType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { CallOrder } from '../calls/call.repository';
import { RENDERED_CALL_FIELDS, RENDERED_PARTICIPANT_FIELDS, type RenderedEntry, type RenderedShape } from '../calls/records';
import type { PageArgs, RenderedConnectionEntry, RenderedEdgeEntry, RenderedPageInfoEntry } from '../db/pagination';
import { MAX_RENDERED_KEYS } from '../db/sql';
import { AppError } from '../domain/app-error';
import type { CallFilter, ParticipantFilter } from '../domain/filters';
import type { GraphQLContext } from './context';

/**
 * Reads PostgreSQL answers whole: a forward page of `participants` (a user's history, with or without
 * each participation's call) or of `calls` whose selection is only fields of those rows, `__typename`,
 * cursors and page info. The page's statement builds the response's JSON itself (only the selected
 * columns, timestamps as text, cursors in SQL), so the request needs no resolver, no row objects and
 * no `Date`: one statement and one `JSON.parse`. The filter and page arguments go through the same
 * repository code as the usual path (tenancy, cursors, limits), and the response is the one graphql-js
 * would give, key for key (test/integration/rendered-reads.test.ts compares them).
 *
 * Anything else is executed as usual: another root field or a second one, `totalCount`, a call's
 * `participants` or `events`, a backward page, a directive, a field selected twice under one key. So is
 * any read whose arguments the usual path refuses (it gives the error) or whose statement fails.
 */
export function renderedReadsPlugin(): ApolloServerPlugin<GraphQLContext> {
  const plans = new WeakMap<OperationDefinitionNode, RenderedRead | null>();
  const planFor = (schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): RenderedRead | null => {
    let plan = plans.get(operation);
    if (plan === undefined) {
      plan = planRead(schema, document, operation);
      plans.set(operation, plan);
    }
    return plan;
  };
  return {
    async requestDidStart() {
      return {
        async responseForOperation({ schema, document, operation, request, contextValue, logger }) {
          const plan = planFor(schema, document, operation);
          if (plan === null) return null;
          try {
            const data = await answer(plan, schema, operation, request.variables ?? {}, contextValue);
            if (data === null) return null;
            return { http: { status: undefined, headers: new HeaderMap() }, body: { kind: 'single', singleResult: { data } } } satisfies GraphQLResponse;
          } catch (err) {
            // Refused arguments are reported by the usual path, with its error. So is a statement that timed
            // out or lost its connection, without running it twice: the resolver throws this error (see
            // renderedReadFailure). A statement PostgreSQL refused (an analysis or data error) is tried there.
            if (!(err instanceof AppError)) {
              if (isRefusedStatement(err)) logger.warn(`rendered read refused by PostgreSQL, executing it as usual: ${(err as Error).message}`);
              else failures.set(contextValue, err);
            }
            return null;
          }
        },
      };
    },
  };
}

/** The error of a rendered read's statement, by the request's context, for the resolver to report instead of reading again. */
const failures = new WeakMap<object, unknown>();

/** SQLSTATE classes 22 (data exception) and 42 (syntax or access rule): PostgreSQL refused the statement itself. */
const isRefusedStatement = (err: unknown): boolean => /^(22|42)/.test(String((err as { code?: unknown } | null)?.code ?? ''));

/**
 * Throws the error of this request's rendered read, if its statement failed (a timeout, a lost
 * connection): the root resolver reports it as its own, without running the read a second time.
 */
export function throwRenderedReadFailure(ctx: GraphQLContext): void {
  if (failures.has(ctx)) throw failures.get(ctx);
}

/** What a rendered read needs at run time: the root field, its response key, and the shapes of its connection and nodes. */
export interface RenderedRead {
  readonly root: 'participants' | 'calls';
  /** The response keys of the root selection, in order: the read's own, and any `__typename`. */
  readonly keys: readonly (readonly [key: string, kind: 'read' | 'typename'])[];
  readonly field: GraphQLField<unknown, unknown>;
  readonly fieldNode: FieldNode;
  readonly connection: readonly RenderedConnectionEntry[];
  readonly node: RenderedShape;
}

/** Runs a planned read; null when it must go the usual way after all (a backward page, variables that do not coerce). */
async function answer(plan: RenderedRead, schema: GraphQLSchema, operation: OperationDefinitionNode, variables: Record<string, unknown>, ctx: GraphQLContext): Promise<Record<string, unknown> | null> {
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
  if (coerced.errors) return null;
  const args = getArgumentValues(plan.field, plan.fieldNode, coerced.coerced);
  if (args.last != null || args.before != null) return null;
  const page: PageArgs = { first: args.first as number | null | undefined, after: args.after as string | null | undefined };
  const text =
    plan.root === 'participants'
      ? await ctx.services.participants.renderPage(ctx.scope, args.filter as ParticipantFilter | null | undefined, page, plan.node, plan.connection)
      : await ctx.services.calls.renderPage(ctx.scope, args.filter as CallFilter | null | undefined, (args.orderBy as CallOrder | null | undefined) ?? 'STARTED_AT_DESC', page, plan.node, plan.connection);
  if (text === null) return null;
  const connection: unknown = JSON.parse(text);
  const data: Record<string, unknown> = {};
  for (const [key, kind] of plan.keys) data[key] = kind === 'read' ? connection : schema.getQueryType()?.name;
  return data;
}

/** One selected field under its response key. */
interface Selected {
  readonly key: string;
  readonly node: FieldNode;
}

/**
 * The fields `set` selects on `type`, through fragments on that same type, in response order; null
 * where the plan gives up: a directive, a fragment on another type, a key selected twice, too many keys.
 */
function flatten(set: SelectionSetNode | undefined, type: GraphQLObjectType, fragments: ReadonlyMap<string, FragmentDefinitionNode>): Selected[] | null {
  const out: Selected[] = [];
  const keys = new Set<string>();
  const visit = (selections: SelectionSetNode | undefined, depth: number): boolean => {
    if (!selections || depth > 4) return false;
    for (const node of selections.selections) {
      if (node.directives?.length) return false;
      if (node.kind === Kind.FIELD) {
        const key = node.alias?.value ?? node.name.value;
        if (keys.has(key)) return false;
        keys.add(key);
        out.push({ key, node });
      } else {
        const fragment = node.kind === Kind.INLINE_FRAGMENT ? node : fragments.get(node.name.value);
        if (!fragment || (fragment.typeCondition && fragment.typeCondition.name.value !== type.name)) return false;
        if (!visit(fragment.selectionSet, depth + 1)) return false;
      }
    }
    return true;
  };
  return visit(set, 0) && out.length <= MAX_RENDERED_KEYS ? out : null;
}

/** The object type of `field` on `parent` (through lists and non-null). */
function objectTypeOf(parent: GraphQLObjectType, field: string): GraphQLObjectType | null {
  const type = parent.getFields()[field] ? getNamedType(parent.getFields()[field].type) : null;
  return type && isObjectType(type) ? type : null;
}

/**
 * Leaf fields and `__typename` of an object whose record fields `renderable` holds (`id` is the record's
 * `ref`), plus, through `nested`, object fields the caller knows; null for anything else.
 */
function nodeShape(
  set: SelectionSetNode | undefined,
  type: GraphQLObjectType,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  renderable: ReadonlySet<string>,
  nested: (name: string, selected: Selected, type: GraphQLObjectType) => RenderedEntry | null = () => null,
): RenderedShape | null {
  const selected = flatten(set, type, fragments);
  if (!selected) return null;
  const out: RenderedEntry[] = [];
  for (const s of selected) {
    const name = s.node.name.value;
    if (s.node.arguments?.length) return null;
    if (name === '__typename') {
      out.push({ key: s.key, kind: 'const', value: type.name });
      continue;
    }
    const field = type.getFields()[name];
    if (!field) return null;
    if (isLeafType(getNamedType(field.type))) {
      const record = name === 'id' ? 'ref' : name;
      if (s.node.selectionSet || !renderable.has(record)) return null;
      out.push({ key: s.key, kind: 'field', field: record });
      continue;
    }
    const entry = nested(name, s, type);
    if (!entry) return null;
    out.push(entry);
  }
  return out;
}

/** The plan of `operation` when PostgreSQL can answer it whole, else null. */
export function planRead(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): RenderedRead | null {
  const query = schema.getQueryType();
  if (operation.operation !== 'query' || !query) return null;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const roots = flatten(operation.selectionSet, query, fragments);
  if (!roots) return null;
  const reads = roots.filter((s) => s.node.name.value !== '__typename');
  if (reads.length !== 1) return null;
  const read = reads[0];
  const root = read.node.name.value;
  if (root !== 'participants' && root !== 'calls') return null;
  const field = query.getFields()[root];
  const connectionType = objectTypeOf(query, root);
  if (!field || !connectionType) return null;
  const callType = schema.getType('Call');
  if (!callType || !isObjectType(callType)) return null;
  const callShape = (set: SelectionSetNode | undefined) => nodeShape(set, callType, fragments, RENDERED_CALL_FIELDS);

  let node: RenderedShape | null = null;
  const connectionFields = flatten(read.node.selectionSet, connectionType, fragments);
  if (!connectionFields) return null;
  const connection: RenderedConnectionEntry[] = [];
  for (const c of connectionFields) {
    const name = c.node.name.value;
    if (c.node.arguments?.length) return null;
    if (name === '__typename') {
      connection.push({ key: c.key, kind: 'const', value: connectionType.name });
    } else if (name === 'edges') {
      const edgeType = objectTypeOf(connectionType, 'edges');
      const edgeFields = edgeType && flatten(c.node.selectionSet, edgeType, fragments);
      if (!edgeType || !edgeFields) return null;
      const edge: RenderedEdgeEntry[] = [];
      for (const e of edgeFields) {
        const edgeName = e.node.name.value;
        if (e.node.arguments?.length) return null;
        if (edgeName === '__typename') edge.push({ key: e.key, kind: 'const', value: edgeType.name });
        else if (edgeName === 'cursor') edge.push({ key: e.key, kind: 'cursor' });
        else if (edgeName === 'node' && node === null) {
          const nodeType = objectTypeOf(edgeType, 'node');
          if (!nodeType) return null;
          node =
            root === 'calls'
              ? callShape(e.node.selectionSet)
              : nodeShape(e.node.selectionSet, nodeType, fragments, RENDERED_PARTICIPANT_FIELDS, (nestedName, s) => {
                  if (nestedName !== 'call') return null;
                  const shape = callShape(s.node.selectionSet);
                  return shape && { key: s.key, kind: 'call', shape };
                });
          if (!node) return null;
          edge.push({ key: e.key, kind: 'node' });
        } else return null;
      }
      connection.push({ key: c.key, kind: 'edges', edge });
    } else if (name === 'pageInfo') {
      const infoType = objectTypeOf(connectionType, 'pageInfo');
      const infoFields = infoType && flatten(c.node.selectionSet, infoType, fragments);
      if (!infoType || !infoFields) return null;
      const info: RenderedPageInfoEntry[] = [];
      for (const i of infoFields) {
        const infoName = i.node.name.value;
        if (i.node.arguments?.length) return null;
        if (infoName === '__typename') info.push({ key: i.key, kind: 'const', value: infoType.name });
        else if (infoName === 'hasNextPage' || infoName === 'hasPreviousPage' || infoName === 'startCursor' || infoName === 'endCursor') info.push({ key: i.key, kind: infoName });
        else return null;
      }
      connection.push({ key: c.key, kind: 'pageInfo', info });
    } else return null;
  }
  return {
    root,
    keys: roots.map((s) => [s.key, s === read ? 'read' : 'typename'] as const),
    field,
    fieldNode: read.node,
    connection,
    node: node ?? [],
  };
}
