import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Args, Ctx, FieldResolver, Info, Query, Resolver, Root } from 'type-graphql';
import { ConnectionArgs } from './connection.args';
import { AppError } from '../domain/app-error';
import { Call, toCall } from './call.type';
import { ParticipantConnection } from './connections';
import type { GraphQLContext } from './context';
import { ParticipantFilter } from './filters.input';
import { Participant, toParticipant } from './participant.type';
import { selectsPath } from './selection';

@Resolver(() => Participant)
export class ParticipantResolver {
  @Query(() => ParticipantConnection, { description: "Participations, newest call first: a user's history from their own side" })
  async participants(
    @Ctx() ctx: GraphQLContext,
    @Args(() => ConnectionArgs) pageArgs: ConnectionArgs,
    @Info() info: GraphQLResolveInfo,
    @Arg('filter', () => ParticipantFilter, { nullable: true }) filter?: ParticipantFilter | null,
  ): Promise<InstanceType<typeof ParticipantConnection>> {
    const { participants } = ctx.services;
    let page;
    if (selectsPath(info, ['edges', 'node', 'call'])) {
      // The calls come in the same statement; `call` below then finds them in the loader.
      page = await participants.listWithCalls(ctx.scope, filter, pageArgs);
      for (const p of page.nodes) ctx.loaders.callByKey.prime(p.call, p.call);
    } else {
      page = await participants.list(ctx.scope, filter, pageArgs);
    }
    return ParticipantConnection.from({ page, count: () => participants.count(ctx.scope, filter) }, toParticipant);
  }

  @FieldResolver(() => Call)
  async call(@Root() participant: Participant, @Ctx() ctx: GraphQLContext): Promise<Call> {
    const record = await ctx.loaders.callByKey.load({ sdkAppId: participant.sdkAppId, callId: participant.callId });
    if (record === null) throw new AppError('FORBIDDEN', `call: expected a call visible to this key, got none for "${participant.callId}"`, 'call');
    return toCall(record);
  }
}
