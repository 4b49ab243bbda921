import { Arg, Root, Subscription, Resolver, type SubscribeResolverData } from 'type-graphql';
import type { LiveCallRecord } from '../calls/live.repository';
import type { CallEventRecord } from '../calls/records';
import { AppError } from '../domain/app-error';
import { eventPosition } from '../domain/cursor';
import { Call, toCall } from './call.type';
import { CallEvent, toCallEvent } from './call-event.type';
import type { GraphQLContext, LiveContext } from './context';
import { CallEventFilter, CallFilter } from './filters.input';
import { lastResult, liveRenderer } from './live-render';

type Data<A> = SubscribeResolverData<unknown, A, GraphQLContext>;

/** The hub renders an event for each of its groups in a row: the GraphQL object is made once. */
const eventRoot = lastResult(toCallEvent);
const callRoot = lastResult(toCall);

function liveOf(ctx: GraphQLContext): LiveContext {
  if (!ctx.live) throw new AppError('BAD_USER_INPUT', 'transport: expected a graphql-ws WebSocket for subscriptions, got HTTP');
  return ctx.live;
}

/**
 * The subscriptions. `subscribe` registers with the live hub, which renders each item once per group of
 * identical subscriptions (`liveRenderer`, against a schema where these fields resolve to their root) and
 * writes the messages through the socket's outbox; graphql-ws only sees the subscription end. The methods
 * below give the fields their types and arguments; the live path does not call them.
 */
@Resolver()
export class LiveResolver {
  @Subscription(() => CallEvent, {
    description: 'Each stored event matching the filter, in position order. With `after` (an event cursor), first the stored events after it, then live ones: no gap, no duplicate.',
    subscribe: ({ args, context, info }: Data<{ filter?: CallEventFilter | null; after?: string | null }>) => {
      const live = liveOf(context);
      const after = args.after ? eventPosition('after', args.after) : null;
      const renderer = liveRenderer(info, context, eventRoot, live.formatError);
      return live.hub.deliverEvents(context.scope, args.filter, after, live.onSlowConsumer, { renderer, outlet: live.outlet });
    },
  })
  callEventAdded(
    @Root() event: CallEventRecord,
    @Arg('filter', () => CallEventFilter, { nullable: true }) _filter?: CallEventFilter | null,
    @Arg('after', () => String, { nullable: true }) _after?: string | null,
  ): CallEvent {
    return toCallEvent(event);
  }

  @Subscription(() => Call, {
    description: "A matching call's state after each change",
    subscribe: ({ args, context, info }: Data<{ filter?: CallFilter | null }>) => {
      const live = liveOf(context);
      const renderer = liveRenderer(info, context, callRoot, live.formatError);
      return live.hub.deliverCalls(context.scope, args.filter, () => live.onSlowConsumer(null), { renderer, outlet: live.outlet });
    },
  })
  callUpdated(@Root() call: LiveCallRecord, @Arg('filter', () => CallFilter, { nullable: true }) _filter?: CallFilter | null): Call {
    return toCall(call);
  }
}
