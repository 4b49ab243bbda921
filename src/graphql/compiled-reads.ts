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
import { RENDERED_CALL_FIELDS, RENDERED_EVENT_FIELDS, RENDERED_PARTICIPANT_FIELDS, type RenderedEntry, type RenderedShape } from '../calls/records';
import { CountFailure, type PageArgs, type RenderedConnectionEntry, type RenderedEdgeEntry, type RenderedPageInfoEntry } from '../db/pagination';
import { MAX_RENDERED_KEYS } from '../db/sql';
import { TimestampTextError } from '../db/timestamps';
import { AppError } from '../domain/app-error';
import type { CallFilter, ParticipantFilter } from '../domain/filters';
import type { GraphQLContext } from './context';

/**
 * Reads compiled to one statement and a function from its rows to the response: a forward page of
 * `participants` (a user's history, with or without each participation's call) or of `calls`, or one
 * `call(callId)`, whose selection is only fields of those rows, a call's `participants` and `events`,
 * `__typename`, cursors, page info and `totalCount` (counted beside the page, as the resolvers count).
 * The statement selects only the selected columns (timestamps as text, made the API's text without a
 * `Date`; a call's lists as JSON built in the same statement) and the keyset's texts; the response is
 * built from the rows without graphql-js's execution, resolvers or `Date`s. The filter and page arguments go through the
 * same repository code as the usual path (tenancy, cursors, limits), and the response is the one
 * graphql-js would give, key for key (test/integration/compiled-reads.test.ts compares them).
 *
 * Anything else is executed as usual: another root field or a second one, a listed participant's or
 * an event's `call`, a backward page, a directive, a field selected twice under one key or a key named
 * `__proto__`. So is any read whose arguments the usual path refuses (it gives the error), whose
 * statement PostgreSQL refuses, or whose rows hold a timestamp text isoFromUtcText does not take.
 * Those last two are logged by `warn` (the app throttles it: the same data or setting fails every
 * request alike), or by Apollo's logger without one.
 */
export function compiledReadsPlugin(warn?: (obj: object, msg: string) => void): ApolloServerPlugin<GraphQLContext> {
  const plans = new WeakMap<OperationDefinitionNode, CompiledRead | null>();
  const planFor = (schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): CompiledRead | null => {
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
          // Apollo asks even when no operation resolved (an unknown or missing operationName): it answers that itself.
          if (!operation) return null;
          try {
            const plan = planFor(schema, document, operation);
            if (plan === null) return null;
            const data = await answer(plan, schema, operation, request.variables ?? {}, contextValue);
            if (data === null) return null;
            return { http: { status: undefined, headers: new HeaderMap() }, body: { kind: 'single', singleResult: { data } } } satisfies GraphQLResponse;
          } catch (err) {
            // Refused arguments are reported by the usual path, with its error. So is a statement that timed
            // out or lost its connection, without running it twice: the resolver throws its error (see
            // throwCompiledReadFailure). A statement PostgreSQL refused (an analysis or data error) is tried there.
            const count = err instanceof StatementFailure && err.cause instanceof CountFailure;
            const error = err instanceof StatementFailure ? (count ? (err.cause as CountFailure).cause : err.cause) : err;
            if (err instanceof StatementFailure && !isRefusedStatement(error)) failures.set(contextValue, { count, error });
            else if (!(err instanceof AppError)) {
              const message = `compiled read failed, executing it as usual: ${(err as Error).message}`;
              if (warn) warn({}, message);
              else logger.warn(message);
            }
            return null;
          }
        },
      };
    },
  };
}

/** The error of a compiled read's statement (or of its count), by the request's context, for the resolvers to report instead of reading again. */
const failures = new WeakMap<object, { readonly count: boolean; readonly error: unknown }>();

/** An error of a compiled read's statement (not of its arguments). */
class StatementFailure extends Error {
  constructor(override readonly cause: unknown) {
    super((cause as Error)?.message ?? String(cause));
  }
}

/**
 * Runs a compiled read's statement: its errors become {@link StatementFailure}s; refused arguments stay
 * AppErrors, and a timestamp text the builder does not take stays what it is (the read goes the usual way).
 */
async function statement<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof AppError || err instanceof TimestampTextError) throw err;
    throw new StatementFailure(err);
  }
}

/** SQLSTATE classes 22 (data exception) and 42 (syntax or access rule): PostgreSQL refused the statement itself. */
const isRefusedStatement = (err: unknown): boolean => /^(22|42)/.test(String((err as { code?: unknown } | null)?.code ?? ''));

/**
 * Throws the error of this request's compiled read, if its statement failed (a timeout, a lost
 * connection): the root resolver reports it as its own, without running the read a second time.
 */
export function throwCompiledReadFailure(ctx: GraphQLContext): void {
  const failure = failures.get(ctx);
  if (failure && !failure.count) throw failure.error;
}

/** Likewise for the count of a compiled page: `totalCount` reports its error without counting again. */
export function throwCompiledCountFailure(ctx: GraphQLContext): void {
  const failure = failures.get(ctx);
  if (failure?.count) throw failure.error;
}

/** What a compiled read needs at run time: the root field, its response key, and the shapes of its connection and nodes. */
export interface CompiledRead {
  readonly root: 'participants' | 'calls' | 'call';
  /** The response keys of the root selection, in order: the read's own, and any `__typename`. */
  readonly keys: readonly (readonly [key: string, kind: 'read' | 'typename'])[];
  readonly field: GraphQLField<unknown, unknown>;
  readonly fieldNode: FieldNode;
  readonly connection: readonly RenderedConnectionEntry[];
  readonly node: RenderedShape;
}

/** Runs a compiled read; null when it must go the usual way after all (a backward page, variables that do not coerce). */
async function answer(plan: CompiledRead, schema: GraphQLSchema, operation: OperationDefinitionNode, variables: Record<string, unknown>, ctx: GraphQLContext): Promise<Record<string, unknown> | null> {
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
  if (coerced.errors) return null;
  const args = getArgumentValues(plan.field, plan.fieldNode, coerced.coerced);
  let value: unknown;
  if (plan.root === 'call') {
    value = await statement(() => ctx.services.calls.compiledOne(ctx.scope, args.callId as string, args.sdkAppId as string | null | undefined, plan.node));
    if (value === undefined) return null;
  } else {
    if (args.last != null || args.before != null) return null;
    const page: PageArgs = { first: args.first as number | null | undefined, after: args.after as string | null | undefined };
    value = await statement(() =>
      plan.root === 'participants'
        ? ctx.services.participants.compiledPage(ctx.scope, args.filter as ParticipantFilter | null | undefined, page, plan.node, plan.connection)
        : ctx.services.calls.compiledPage(ctx.scope, args.filter as CallFilter | null | undefined, (args.orderBy as CallOrder | null | undefined) ?? 'STARTED_AT_DESC', page, plan.node, plan.connection),
    );
    if (value === null) return null;
  }
  const data: Record<string, unknown> = {};
  for (const [key, kind] of plan.keys) data[key] = kind === 'read' ? value : schema.getQueryType()?.name;
  return data;
}

/** One selected field under its response key. */
interface Selected {
  readonly key: string;
  readonly node: FieldNode;
}

/**
 * The fields `set` selects on `type`, through fragments on that same type, in response order; null
 * where the plan gives up: a directive, a fragment on another type, a key selected twice or named
 * `__proto__`, too many keys.
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
        // `__proto__` would set a built object's prototype rather than a key (graphql-js keeps it as a key).
        if (keys.has(key) || key === '__proto__') return false;
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

/** A field other than a plain column: its entry, null to give up, undefined when it is a column after all. */
type Nested = (name: string, selected: Selected) => RenderedEntry | null | undefined;

/**
 * The shape of an object's selection: `__typename`, leaf fields whose record field (`rename`d, e.g.
 * `id` to `ref`) `renderable` holds, and what `nested` takes; null for anything else.
 */
function objectShape(
  set: SelectionSetNode | undefined,
  type: GraphQLObjectType,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  renderable: ReadonlySet<string>,
  rename: Readonly<Record<string, string>>,
  nested: Nested,
): RenderedShape | null {
  return entries<RenderedEntry>(set, type, fragments, (name, s) => {
    const field = type.getFields()[name];
    if (!field) return null;
    const entry = nested(name, s);
    if (entry !== undefined) return entry;
    const record = rename[name] ?? name;
    if (!isLeafType(getNamedType(field.type)) || s.node.selectionSet || !renderable.has(record)) return null;
    return { key: s.key, kind: 'field', field: record };
  });
}

/** The shapes of calls, participants and events in `document`. */
function shapes(schema: GraphQLSchema, fragments: ReadonlyMap<string, FragmentDefinitionNode>) {
  const type = (name: string) => {
    const t = schema.getType(name);
    return t && isObjectType(t) ? t : null;
  };
  const callType = type('Call');
  const participantType = type('Participant');
  const eventType = type('CallEvent');
  if (!callType || !participantType || !eventType) return null;
  const event = (set: SelectionSetNode | undefined) =>
    objectShape(set, eventType, fragments, RENDERED_EVENT_FIELDS, { id: 'position', event: 'type' }, (name, s) =>
      name === 'cursor' ? { key: s.key, kind: 'cursor' } : name === 'call' ? null : undefined,
    );
  // A participant listed with its call: its `call` is read the usual way.
  const listed = (set: SelectionSetNode | undefined) => objectShape(set, participantType, fragments, RENDERED_PARTICIPANT_FIELDS, {}, (name) => (name === 'call' ? null : undefined));
  const call = (set: SelectionSetNode | undefined): RenderedShape | null =>
    objectShape(set, callType, fragments, RENDERED_CALL_FIELDS, { id: 'ref' }, (name, s) => {
      if (name !== 'participants' && name !== 'events') return undefined;
      const shape = name === 'participants' ? listed(s.node.selectionSet) : event(s.node.selectionSet);
      return shape && { key: s.key, kind: name, shape };
    });
  const participant = (set: SelectionSetNode | undefined) =>
    objectShape(set, participantType, fragments, RENDERED_PARTICIPANT_FIELDS, {}, (name, s) => {
      if (name !== 'call') return undefined;
      const shape = call(s.node.selectionSet);
      return shape && { key: s.key, kind: 'call', shape };
    });
  return { call, participant };
}

/** A `__typename`, whose value the plan knows. */
type TypeName = { readonly key: string; readonly kind: 'const'; readonly value: string };

/**
 * The entries of `set` on `type`, in response order: `__typename` as a constant, every other field by
 * `entry`; null where a field has arguments or `entry` (or {@link flatten}) gives up.
 */
function entries<E>(
  set: SelectionSetNode | undefined,
  type: GraphQLObjectType | null,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  entry: (name: string, s: Selected) => E | null,
): (E | TypeName)[] | null {
  const fields = type && flatten(set, type, fragments);
  if (!type || !fields) return null;
  const out: (E | TypeName)[] = [];
  for (const s of fields) {
    if (s.node.arguments?.length) return null;
    const e = s.node.name.value === '__typename' ? { key: s.key, kind: 'const' as const, value: type.name } : entry(s.node.name.value, s);
    if (!e) return null;
    out.push(e);
  }
  return out;
}

/** The plan of `operation` when it can be compiled, else null. */
export function planRead(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): CompiledRead | null {
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
  if (root !== 'participants' && root !== 'calls' && root !== 'call') return null;
  const field = query.getFields()[root];
  const made = shapes(schema, fragments);
  if (!field || !made) return null;
  const keys = roots.map((s) => [s.key, s === read ? 'read' : 'typename'] as const);
  if (root === 'call') {
    const node = made.call(read.node.selectionSet);
    return node && { root, keys, field, fieldNode: read.node, connection: [], node };
  }
  const connectionType = objectTypeOf(query, root);
  if (!connectionType) return null;

  let node: RenderedShape | null = null;
  const connection = entries<RenderedConnectionEntry>(read.node.selectionSet, connectionType, fragments, (name, c) => {
    if (name === 'totalCount') return { key: c.key, kind: 'totalCount' };
    if (name === 'edges') {
      const edge = entries<RenderedEdgeEntry>(c.node.selectionSet, objectTypeOf(connectionType, 'edges'), fragments, (edgeName, e) => {
        if (edgeName === 'cursor') return { key: e.key, kind: 'cursor' };
        if (edgeName !== 'node' || node !== null) return null;
        node = root === 'calls' ? made.call(e.node.selectionSet) : made.participant(e.node.selectionSet);
        return node && { key: e.key, kind: 'node' };
      });
      return edge && { key: c.key, kind: 'edges', edge };
    }
    if (name === 'pageInfo') {
      const info = entries<RenderedPageInfoEntry>(c.node.selectionSet, objectTypeOf(connectionType, 'pageInfo'), fragments, (infoName, i) =>
        infoName === 'hasNextPage' || infoName === 'hasPreviousPage' || infoName === 'startCursor' || infoName === 'endCursor' ? { key: i.key, kind: infoName } : null,
      );
      return info && { key: c.key, kind: 'pageInfo', info };
    }
    return null;
  });
  if (!connection) return null;
  return {
    root,
    keys,
    field,
    fieldNode: read.node,
    connection,
    node: node ?? [],
  };
}
