import { Arg, Ctx, Query, Resolver } from 'type-graphql';
import type { StatsDimension, StatsInterval } from '../calls/stats.repository';
import type { GraphQLContext } from './context';
import { CallStatsDimensionEnum, StatsIntervalEnum } from './enums';
import { CallFilter } from './filters.input';
import { CallStatsRow } from './stats.type';

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
}
