import { Arg, Root, Subscription, Resolver, type SubscribeResolverData } from 'type-graphql';
import type { LiveCallRecord } from '../calls/live.repository';
import type { CallEventRecord } from '../calls/records';
import { AppError } from '../domain/app-error';
import { eventPosition } from '../domain/cursor';
import { Call, toCall } from './call.type';
import { CallEvent, toCallEvent } from './call-event.type';
import type { GraphQLContext, LiveContext } from './context';
import { CallEventFilter, CallFilter } from './filters.input';

type Data<A> = SubscribeResolverData<unknown, A, GraphQLContext>;

function liveOf(ctx: GraphQLContext): LiveContext {
  if (!ctx.live) throw new AppError('BAD_USER_INPUT', 'transport: expected a graphql-ws WebSocket for subscriptions, got HTTP');
  return ctx.live;
}

@Resolver()
export class LiveResolver {
  @Subscription(() => CallEvent, {
    description: 'Each stored event matching the filter, in position order. With `after` (an event cursor), first the stored events after it, then live ones: no gap, no duplicate.',
    subscribe: ({ args, context }: Data<{ filter?: CallEventFilter | null; after?: string | null }>) => {
      const live = liveOf(context);
      const after = args.after ? eventPosition('after', args.after) : null;
      return live.hub.subscribeEvents(context.scope, args.filter, after, live.onSlowConsumer);
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
    subscribe: ({ args, context }: Data<{ filter?: CallFilter | null }>) => {
      const live = liveOf(context);
      return live.hub.subscribeCalls(context.scope, args.filter, () => live.onSlowConsumer(null));
    },
  })
  callUpdated(@Root() call: LiveCallRecord, @Arg('filter', () => CallFilter, { nullable: true }) _filter?: CallFilter | null): Call {
    return toCall(call);
  }
}
