import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';
import type { GraphQLContext } from '../graphql/context';
import { errorCode } from '../graphql/errors';
import { BoundedLabel, UNKNOWN } from './bounded-label';
import type { Metrics } from './metrics';

/** Distinct operation names kept as labels; later ones count as `other`. */
const MAX_OPERATION_NAMES = 100;
/** Distinct error codes kept as labels (calltrail and Apollo use about a dozen). */
const MAX_ERROR_CODES = 30;

/**
 * Times every GraphQL operation over HTTP by its name and counts its errors by the `extensions.code`
 * the client gets. Label values are bounded ({@link BoundedLabel}): an unnamed operation is
 * `anonymous`, one that never resolved (parse or validation error, no key) is `unknown`.
 */
export function graphqlMetricsPlugin(metrics: Pick<Metrics, 'graphqlSeconds' | 'graphqlErrors'>): ApolloServerPlugin<GraphQLContext> {
  const names = new BoundedLabel(MAX_OPERATION_NAMES);
  const codes = new BoundedLabel(MAX_ERROR_CODES, UNKNOWN);
  const countError = (operation: string, error: unknown) =>
    metrics.graphqlErrors.inc({ operation, code: codes.value(error instanceof GraphQLError ? errorCode(error) : 'INTERNAL_SERVER_ERROR') });
  return {
    async contextCreationDidFail({ error }) {
      countError(UNKNOWN, error);
    },
    async requestDidStart() {
      const started = performance.now();
      let operation = UNKNOWN;
      return {
        async didResolveOperation({ operationName }) {
          operation = names.value(operationName);
        },
        async didEncounterErrors({ errors }) {
          for (const error of errors) countError(operation, error);
        },
        async willSendResponse() {
          metrics.graphqlSeconds.observe({ operation }, (performance.now() - started) / 1000);
        },
      };
    },
  };
}
