import { GraphQLDateTime } from 'graphql-scalars';

/** `DateTime`: ISO-8601 with offset, e.g. `2024-01-08T06:32:46.000Z`. */
export const DateTimeScalar = GraphQLDateTime;
