import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Args, Ctx, FieldResolver, Info, Query, Resolver, Root } from 'type-graphql';
import { ConnectionArgs } from './connection.args';
import type { CallOrder } from '../calls/call.repository';
import { Call, callListsFor, callRecordFields, toCall } from './call.type';
import { CallEvent, toCallEvent } from './call-event.type';
import { CallConnection } from './connections';
import type { GraphQLContext } from './context';
import { CallOrderEnum } from './enums';
import { CallFilter } from './filters.input';
import { Participant, toParticipant } from './participant.type';
import { throwCompiledCountFailure, throwCompiledReadFailure } from './compiled-reads';
import { pageArgsFor, selectedFields } from './selection';

@Resolver(() => Call)
export class CallResolver {
  @Query(() => Call, { nullable: true, description: 'One call by its TRTC CallId; sdkAppId is needed only if the id exists in several apps' })
  async call(
    @Ctx() ctx: GraphQLContext,
    @Info() info: GraphQLResolveInfo,
    @Arg('callId', () => String) callId: string,
    @Arg('sdkAppId', () => String, { nullable: true }) sdkAppId?: string | null,
  ): Promise<Call | null> {
    throwCompiledReadFailure(ctx);
    // Its participants and events, when selected, come in the same statement.
    const names = selectedFields(info);
    const record = await ctx.services.calls.findByCallId(ctx.scope, callId, sdkAppId, callRecordFields(names), callListsFor(info, [], names));
    return record && toCall(record);
  }

  @Query(() => CallConnection, { description: 'Calls, newest first by default' })
  async calls(
    @Ctx() ctx: GraphQLContext,
    @Args(() => ConnectionArgs) pageArgs: ConnectionArgs,
    @Info() info: GraphQLResolveInfo,
    @Arg('filter', () => CallFilter, { nullable: true }) filter?: CallFilter | null,
    @Arg('orderBy', () => CallOrderEnum, { nullable: true }) orderBy?: CallOrder | null,
  ): Promise<InstanceType<typeof CallConnection>> {
    throwCompiledReadFailure(ctx);
    const { calls } = ctx.services;
    // Only the columns the selection needs; each call's participants and events, when selected, come in the same statement.
    const names = selectedFields(info, ['edges', 'node']);
    const lists = callListsFor(info, ['edges', 'node'], names);
    const page = await calls.list(ctx.scope, filter, orderBy ?? 'STARTED_AT_DESC', pageArgsFor(info, pageArgs), callRecordFields(names), lists);
    return CallConnection.from({ page, count: () => { throwCompiledCountFailure(ctx); return calls.count(ctx.scope, filter); } }, toCall);
  }

  // Not `async`: lists read with the call (by `call`, `calls` or a history) are returned without a promise (see Participant.call).
  @FieldResolver(() => [Participant])
  participants(@Root() call: Call, @Ctx() ctx: GraphQLContext): Participant[] | Promise<Participant[]> {
    if (call.knownParticipants) return call.knownParticipants.map(toParticipant);
    return ctx.loaders.participantsByCallRef.load(call.ref).then((records) => records.map(toParticipant));
  }

  @FieldResolver(() => [CallEvent], { description: 'Every stored event of the call, in position order' })
  events(@Root() call: Call, @Ctx() ctx: GraphQLContext): CallEvent[] | Promise<CallEvent[]> {
    if (call.knownEvents) return call.knownEvents.map(toCallEvent);
    return ctx.loaders.eventsByCall.load({ sdkAppId: call.sdkAppId, callId: call.callId }).then((records) => records.map(toCallEvent));
  }
}
