import { Arg, Args, Ctx, Query, Resolver } from 'type-graphql';
import { ForwardArgs } from './connection.args';
import type { StatsDimension, StatsInterval } from '../calls/stats.repository';
import { AppError } from '../domain/app-error';
import { RejectedCallbackConnection } from './connections';
import type { GraphQLContext } from './context';
import { CallStatsDimensionEnum, StatsIntervalEnum } from './enums';
import { CallFilter } from './filters.input';
import { CallStatsRow, RejectedCallback } from './stats.type';

@Resolver()
export class StatsResolver {
  @Query(() => [CallStatsRow], { description: 'Aggregates over calls (by start time), computed in SQL' })
  async callStats(
    @Ctx() ctx: GraphQLContext,
    @Arg('filter', () => CallFilter, { nullable: true }) filter?: CallFilter | null,
    @Arg('groupBy', () => [CallStatsDimensionEnum], { nullable: true }) groupBy?: StatsDimension[] | null,
    @Arg('interval', () => StatsIntervalEnum, { nullable: true }) interval?: StatsInterval | null,
    @Arg('timeZone', () => String, { nullable: true, description: 'IANA zone of the buckets; default UTC' }) timeZone?: string | null,
  ): Promise<CallStatsRow[]> {
    return ctx.services.stats.callStats(ctx.scope, filter, groupBy ?? [], interval ?? null, timeZone ?? 'UTC');
  }

  @Query(() => RejectedCallbackConnection, { description: 'The quarantine, newest first; keys with access to every app only' })
  async rejectedCallbacks(
    @Ctx() ctx: GraphQLContext,
    @Args(() => ForwardArgs) args: ForwardArgs,
  ): Promise<InstanceType<typeof RejectedCallbackConnection>> {
    if (!ctx.scope.all) throw new AppError('FORBIDDEN', 'rejectedCallbacks: expected an API key for all apps, got a key scoped to some apps');
    const { rejected } = ctx.services;
    const page = await rejected.list(args);
    return RejectedCallbackConnection.from({ page, count: () => rejected.count() }, (r) => Object.assign(new RejectedCallback(), r));
  }
}
