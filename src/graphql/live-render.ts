import {
  GraphQLObjectType,
  GraphQLSchema,
  Kind,
  OperationTypeNode,
  astFromValue,
  execute,
  print,
  typeFromAST,
  visit,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLError,
  type GraphQLFormattedError,
  type GraphQLInputType,
  type GraphQLResolveInfo,
  type ValueNode,
} from 'graphql';
import { sha256Hex } from '../domain/canonical-json';
import type { LiveRenderer } from '../live/live-groups';
import { createLoaders, type GraphQLContext } from './context';

const liveSchemas = new WeakMap<GraphQLSchema, GraphQLSchema>();

/** `fn` remembering its last argument and result: for a pure `fn` called with the same item in a row. */
export function lastResult<T, U>(fn: (item: T) => U): (item: T) => U {
  let last: { item: T; result: U } | null = null;
  return (item) => {
    if (last?.item !== item) last = { item, result: fn(item) };
    return last.result;
  };
}

/**
 * The schema live renderings execute against: the same types, with each subscription field resolving
 * to its root value (the item, already turned into its GraphQL object once), so no per-event argument
 * conversion runs; the arguments only ever mattered to `subscribe`.
 */
function liveSchemaOf(schema: GraphQLSchema): GraphQLSchema {
  let live = liveSchemas.get(schema);
  if (live) return live;
  const subscription = schema.getSubscriptionType();
  if (!subscription) return schema;
  const { fields, ...config } = subscription.toConfig();
  const rooted = Object.fromEntries(Object.entries(fields).map(([name, field]) => [name, { ...field, resolve: (root: unknown) => root, subscribe: undefined }]));
  const schemaConfig = schema.toConfig();
  live = new GraphQLSchema({
    ...schemaConfig,
    subscription: new GraphQLObjectType({ ...config, fields: rooted }),
    types: schemaConfig.types.filter((t) => t !== subscription),
    assumeValid: true,
  });
  liveSchemas.set(schema, live);
  return live;
}

/**
 * The subscription field's selection as a document of its own: the root field without its arguments
 * (they chose the events; the output does not depend on them), with the fragments, and every variable
 * inlined with the value it was coerced to at subscribe. Executing it needs no variable coercion, and
 * its printed text says exactly what the output depends on.
 */
function selectionDocument(info: GraphQLResolveInfo): DocumentNode {
  const types = new Map((info.operation.variableDefinitions ?? []).map((d) => [d.variable.name.value, typeFromAST(info.schema, d.type) as GraphQLInputType]));
  const unset = (value: ValueNode) => value.kind === Kind.VARIABLE && info.variableValues[value.name.value] === undefined;
  const document: DocumentNode = {
    kind: Kind.DOCUMENT,
    definitions: [
      {
        kind: Kind.OPERATION_DEFINITION,
        operation: OperationTypeNode.SUBSCRIPTION,
        variableDefinitions: [],
        directives: [],
        selectionSet: { kind: Kind.SELECTION_SET, selections: info.fieldNodes.map((field) => ({ ...field, arguments: [] })) },
      },
      ...Object.values(info.fragments),
    ],
  };
  return visit(document, {
    // An unset variable leaves its argument or field out, as execution would.
    Argument: (node) => (unset(node.value) ? null : undefined),
    ObjectField: (node) => (unset(node.value) ? null : undefined),
    Variable: (node) => astFromValue(info.variableValues[node.name.value], types.get(node.name.value)!) ?? { kind: Kind.NULL },
  });
}

/**
 * How a subscription's items become the payloads of its `next` messages (docs/design.md, principle 6):
 * the selection executed against the item and encoded as JSON once, for every subscription of the same
 * scope, filter and key (a digest of the printed selection). Errors are formatted as graphql-ws's
 * `onNext` formats them. Executions get a context of their own, made of the scope alone (its loaders
 * built at the first execution, over the primary): a group keeps nothing of its first subscriber's socket.
 */
export function liveRenderer<T>(info: GraphQLResolveInfo, subscriber: GraphQLContext, toRoot: (item: T) => object, format: (error: GraphQLError) => GraphQLFormattedError): LiveRenderer<T, Buffer> {
  const document = selectionDocument(info);
  const schema = liveSchemaOf(info.schema);
  // The primary's repositories: the item came from the primary, a replica may not have it yet (docs/scaling.md, "Read replicas").
  const { scope } = subscriber;
  const services = subscriber.services.primary;
  let context: GraphQLContext | null = null;
  const encode = (result: ExecutionResult): Buffer => Buffer.from(JSON.stringify(result.errors ? { data: result.data, errors: result.errors.map(format) } : { data: result.data }));
  return {
    key: sha256Hex(print(document)),
    render(item) {
      context ??= { scope, services, loaders: createLoaders(scope, services, false) };
      const result = execute({ schema, document, rootValue: toRoot(item), contextValue: context });
      return result instanceof Promise ? result.then(encode) : encode(result);
    },
  };
}
