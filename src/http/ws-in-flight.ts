import { execute, GraphQLError, getOperationAST, type DocumentNode, type ExecutionArgs } from 'graphql';
import { bearerKey, type InFlightPerKey } from '../graphql/in-flight';

/**
 * The per-key limit of GraphQL over HTTP, applied to queries and mutations sent over graphql-ws: they
 * take a slot of the same `InFlightPerKey` from their `subscribe` message until their execution ends
 * (whether or not the client is still there to read the result). Subscriptions take none: they last
 * hours, are bounded by LIVE_MAX_SUBSCRIPTIONS per connection, and read through the live hub's paced
 * pages (docs/api.md, "Query limits").
 */
export class WsInFlight {
  /** The slot of each admitted operation, by its context (one per operation). */
  private readonly slots = new WeakMap<object, () => void>();

  constructor(private readonly limit: InFlightPerKey) {}

  /**
   * Takes a slot for a single-result operation, tied to `contextValue`; null when admitted or when the
   * operation is a subscription, the RATE_LIMITED error otherwise.
   */
  admit(authorization: string | undefined, document: DocumentNode, operationName: string | null | undefined, contextValue: object): GraphQLError | null {
    if (getOperationAST(document, operationName)?.operation === 'subscription') return null;
    const key = bearerKey(authorization);
    if (key === null) return null; // unreachable: the socket's key was checked at connection_init and again at subscribe
    const release = this.limit.acquire(key);
    if (release === null) return new GraphQLError(this.limit.refusal, { extensions: { code: 'RATE_LIMITED', maxConcurrency: this.limit.max } });
    this.slots.set(contextValue, release);
    return null;
  }

  /** graphql's `execute`, freeing the operation's slot when it ends. */
  readonly execute = async (args: ExecutionArgs) => {
    try {
      return await execute(args);
    } finally {
      const release = this.slots.get(args.contextValue as object);
      this.slots.delete(args.contextValue as object);
      release?.();
    }
  };
}
