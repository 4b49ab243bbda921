import { Arg, Ctx, FieldResolver, Int, Query, Resolver, Root } from 'type-graphql';
import { AppError } from '../domain/app-error';
import { Call, toCall } from './call.type';
import { ParticipantConnection } from './connections';
import type { GraphQLContext } from './context';
import { ParticipantFilter } from './filters.input';
import { Participant, toParticipant } from './participant.type';

@Resolver(() => Participant)
export class ParticipantResolver {
  @Query(() => ParticipantConnection, { description: "Participations, newest call first: a user's history from their own side" })
  async participants(
    @Ctx() ctx: GraphQLContext,
    @Arg('filter', () => ParticipantFilter, { nullable: true }) filter?: ParticipantFilter | null,
    @Arg('first', () => Int, { nullable: true }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
    @Arg('last', () => Int, { nullable: true }) last?: number | null,
    @Arg('before', () => String, { nullable: true }) before?: string | null,
  ): Promise<InstanceType<typeof ParticipantConnection>> {
    const { participants } = ctx.services;
    const page = await participants.list(ctx.scope, filter, { first, after, last, before });
    return ParticipantConnection.from({ page, count: () => participants.count(ctx.scope, filter) }, toParticipant);
  }

  @FieldResolver(() => Call)
  async call(@Root() participant: Participant, @Ctx() ctx: GraphQLContext): Promise<Call> {
    const record = await ctx.loaders.callByKey.load({ sdkAppId: participant.sdkAppId, callId: participant.callId });
    if (record === null) throw new AppError('FORBIDDEN', `call: expected a call visible to this key, got none for "${participant.callId}"`, 'call');
    return toCall(record);
  }
}
