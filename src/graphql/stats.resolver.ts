import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Ctx, Info, Query, Resolver } from 'type-graphql';
import type { CallStatsRecord } from '../calls/stats.repository';
import { measuresOf, type StatsDimension, type StatsInterval } from '../domain/stats-plan';
import type { GraphQLContext } from './context';
import { CallStatsDimensionEnum, StatsIntervalEnum } from './enums';
import { CallFilter } from './filters.input';
import { selectedFields } from './selection';
import { CallStatsRow } from './stats.type';

@Resolver()
export class StatsResolver {
  @Query(() => [CallStatsRow], { description: 'Aggregates over calls (by start time), computed in SQL' })
  async callStats(
    @Ctx() ctx: GraphQLContext,
    @Info() info: GraphQLResolveInfo,
    @Arg('filter', () => CallFilter, { nullable: true }) filter?: CallFilter | null,
    @Arg('groupBy', () => [CallStatsDimensionEnum], { nullable: true }) groupBy?: StatsDimension[] | null,
    @Arg('interval', () => StatsIntervalEnum, { nullable: true }) interval?: StatsInterval | null,
    @Arg('timeZone', () => String, { nullable: true, description: 'IANA zone of the buckets; default UTC' }) timeZone?: string | null,
  ): Promise<CallStatsRecord[]> {
    return ctx.services.stats.callStats(ctx.scope, {
      filter,
      groupBy: groupBy ?? [],
      interval: interval ?? null,
      timeZone: timeZone ?? 'UTC',
      measures: measuresOf(selectedFields(info)),
    });
  }
}
