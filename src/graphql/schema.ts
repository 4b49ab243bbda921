import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { CallEventResolver } from './call-event.resolver';
import { CallResolver } from './call.resolver';
import { LiveResolver } from './live.resolver';
import { ParticipantResolver } from './participant.resolver';
import { QuarantineResolver } from './quarantine.resolver';
import { DateTimeScalar } from './scalars';
import { StatsResolver } from './stats.resolver';

/** Builds the executable schema. */
export function buildCalltrailSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [CallResolver, ParticipantResolver, CallEventResolver, StatsResolver, QuarantineResolver, LiveResolver],
    // Subscriptions here return the live hub's iterators (`subscribe`), never pub/sub topics; type-graphql
    // still requires a PubSub, so this one refuses to be used.
    pubSub: {
      publish: () => {
        throw new Error('pubSub: calltrail publishes through the live hub, not type-graphql topics');
      },
      subscribe: () => {
        throw new Error('pubSub: calltrail subscribes through the live hub, not type-graphql topics');
      },
    },
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    validate: false,
  });
}

/** The SDL committed in schema/schema.graphql. */
export const printCalltrailSchema = (schema: GraphQLSchema): string => `${printSchema(lexicographicSortSchema(schema))}\n`;
