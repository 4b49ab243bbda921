import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Args, Ctx, FieldResolver, Info, Query, Resolver, Root } from 'type-graphql';
import { ConnectionArgs } from './connection.args';
import { Call, toCall } from './call.type';
import { CallEvent, toCallEvent } from './call-event.type';
import { CallEventConnection } from './connections';
import type { GraphQLContext } from './context';
import { CallEventFilter } from './filters.input';
import { pageArgsFor } from './selection';

@Resolver(() => CallEvent)
export class CallEventResolver {
  @Query(() => CallEventConnection, { description: 'Stored events in commit (position) order' })
  async callEvents(
    @Ctx() ctx: GraphQLContext,
    @Args(() => ConnectionArgs) pageArgs: ConnectionArgs,
    @Info() info: GraphQLResolveInfo,
    @Arg('filter', () => CallEventFilter, { nullable: true }) filter?: CallEventFilter | null,
  ): Promise<InstanceType<typeof CallEventConnection>> {
    const { events } = ctx.services;
    const page = await events.list(ctx.scope, filter, pageArgsFor(info, pageArgs));
    return CallEventConnection.from({ page, count: () => events.count(ctx.scope, filter) }, toCallEvent);
  }

  @FieldResolver(() => Call, { nullable: true })
  async call(@Root() event: CallEvent, @Ctx() ctx: GraphQLContext): Promise<Call | null> {
    const record = await ctx.loaders.callByKey.load({ sdkAppId: event.sdkAppId, callId: event.callId });
    return record && toCall(record);
  }
}
