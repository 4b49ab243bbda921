import { Arg, Ctx, FieldResolver, Int, Query, Resolver, Root } from 'type-graphql';
import { Call, toCall } from './call.type';
import { CallEvent, toCallEvent } from './call-event.type';
import { CallEventConnection } from './connections';
import type { GraphQLContext } from './context';
import { CallEventFilter } from './filters.input';

@Resolver(() => CallEvent)
export class CallEventResolver {
  @Query(() => CallEventConnection, { description: 'Stored events in commit (position) order' })
  async callEvents(
    @Ctx() ctx: GraphQLContext,
    @Arg('filter', () => CallEventFilter, { nullable: true }) filter?: CallEventFilter | null,
    @Arg('first', () => Int, { nullable: true }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
    @Arg('last', () => Int, { nullable: true }) last?: number | null,
    @Arg('before', () => String, { nullable: true }) before?: string | null,
  ): Promise<InstanceType<typeof CallEventConnection>> {
    const { events } = ctx.services;
    const page = await events.list(ctx.scope, filter, { first, after, last, before });
    return CallEventConnection.from({ page, count: () => events.count(ctx.scope, filter) }, toCallEvent);
  }

  @FieldResolver(() => Call, { nullable: true })
  async call(@Root() event: CallEvent, @Ctx() ctx: GraphQLContext): Promise<Call | null> {
    const record = await ctx.loaders.callByKey.load({ sdkAppId: event.sdkAppId, callId: event.callId });
    return record && toCall(record);
  }
}
