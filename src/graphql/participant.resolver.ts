import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Args, Ctx, FieldResolver, Info, Query, Resolver, Root } from 'type-graphql';
import { ConnectionArgs } from './connection.args';
import { AppError } from '../domain/app-error';
import { Call, callListsFor, callRecordFields, toCall } from './call.type';
import { ParticipantConnection } from './connections';
import type { GraphQLContext } from './context';
import { ParticipantFilter } from './filters.input';
import { Participant, toParticipant } from './participant.type';
import { throwCompiledCountFailure, throwCompiledReadFailure } from './compiled-reads';
import { pageArgsFor, selectedFields } from './selection';

@Resolver(() => Participant)
export class ParticipantResolver {
  @Query(() => ParticipantConnection, { description: "Participations, newest call first: a user's history from their own side" })
  async participants(
    @Ctx() ctx: GraphQLContext,
    @Args(() => ConnectionArgs) pageArgs: ConnectionArgs,
    @Info() info: GraphQLResolveInfo,
    @Arg('filter', () => ParticipantFilter, { nullable: true }) filter?: ParticipantFilter | null,
  ): Promise<InstanceType<typeof ParticipantConnection>> {
    throwCompiledReadFailure(ctx);
    const { participants } = ctx.services;
    // Only the columns the selection needs; the calls and their lists, when selected, come in the same statement.
    const fields = selectedFields(info, ['edges', 'node']);
    const args = pageArgsFor(info, pageArgs);
    let page;
    if (fields.has('call')) {
      const call = selectedFields(info, ['edges', 'node', 'call']);
      const callLists = callListsFor(info, ['edges', 'node', 'call'], call);
      page = await participants.listWithCalls(ctx.scope, filter, args, { participant: fields, call: callRecordFields(call), callLists });
    } else page = await participants.list(ctx.scope, filter, args, fields);
    return ParticipantConnection.from({ page, count: () => { throwCompiledCountFailure(ctx); return participants.count(ctx.scope, filter); } }, toParticipant);
  }

  /** Not `async`: a call read with its participant is returned as is, so a history page completes without a promise per row. */
  @FieldResolver(() => Call)
  call(@Root() participant: Participant, @Ctx() ctx: GraphQLContext): Call | Promise<Call> {
    if (participant.knownCall) return toCall(participant.knownCall);
    return ctx.loaders.callByKey.load({ sdkAppId: participant.sdkAppId, callId: participant.callId }).then((record) => {
      if (record === null) throw new AppError('FORBIDDEN', `call: expected a call visible to this key, got none for "${participant.callId}"`, 'call');
      return toCall(record);
    });
  }
}
