import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { CallEventResolver } from './call-event.resolver';
import { CallResolver } from './call.resolver';
import { ParticipantResolver } from './participant.resolver';
import { DateTimeScalar } from './scalars';
import { StatsResolver } from './stats.resolver';

/** Builds the executable schema. */
export function buildCalltrailSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [CallResolver, ParticipantResolver, CallEventResolver, StatsResolver],
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    validate: false,
  });
}

/** The SDL committed in schema/schema.graphql. */
export const printCalltrailSchema = (schema: GraphQLSchema): string => `${printSchema(lexicographicSortSchema(schema))}\n`;
