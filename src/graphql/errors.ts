import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { AppError, type AppErrorCode } from '../domain/app-error';

/** GraphQL `extensions.code` and HTTP status of each AppError code. */
const GRAPHQL_CODE: Partial<Record<AppErrorCode, [code: string, status: number]>> = {
  UNAUTHENTICATED: ['UNAUTHENTICATED', 401],
  FORBIDDEN: ['FORBIDDEN', 403],
  BAD_USER_INPUT: ['BAD_USER_INPUT', 400],
  UNAVAILABLE: ['SERVICE_UNAVAILABLE', 503],
  CURSOR_EXPIRED: ['CURSOR_EXPIRED', 400],
};

/** An AppError as a GraphQLError (for errors raised outside resolvers, e.g. in the context). */
export function toGraphQLError(err: AppError): GraphQLError {
  const [code, status] = GRAPHQL_CODE[err.code] ?? ['INTERNAL_SERVER_ERROR', 500];
  return new GraphQLError(err.message, { extensions: { code, field: err.field, http: { status } } });
}

/** SQLSTATE query_canceled: a statement timeout (or a cancel request). */
const QUERY_CANCELED = '57014';

/** graphql's "Did you mean ...?" ending, which names schema fields, types and enum values. */
const SUGGESTION = / ?Did you mean(.+?)\?$/;

/**
 * Maps errors once for GraphQL: AppErrors keep their message and get a code; in production others are
 * masked and lose their suggestions. Apollo already strips suggestions from validation errors over HTTP
 * (hideSchemaDetailsFromClientErrors); graphql-ws has no such option, and variable errors carry them too.
 */
export function formatError(production: boolean) {
  const format = formatErrorKeepingSuggestions(production);
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const result = format(formatted, error);
    return production && SUGGESTION.test(result.message) ? { ...result, message: result.message.replace(SUGGESTION, '') } : result;
  };
}

function formatErrorKeepingSuggestions(production: boolean) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const unwrapped = unwrapResolverError(error);
    // Apollo hands the original error; graphql-ws hands a GraphQLError wrapping it.
    const original = unwrapped instanceof GraphQLError && unwrapped.originalError ? unwrapped.originalError : unwrapped;
    if (original instanceof AppError) {
      const [code] = GRAPHQL_CODE[original.code] ?? ['INTERNAL_SERVER_ERROR'];
      return { message: original.message, path: formatted.path, locations: formatted.locations, extensions: { code, field: original.field } };
    }
    // A statement cut by the query pool's statement_timeout: say so, rather than an internal error.
    if ((original as { code?: unknown } | null)?.code === QUERY_CANCELED && /statement timeout/.test(String((original as Error).message))) {
      return {
        message: 'database: expected an answer within DB_QUERY_TIMEOUT_MS, got none (statement timeout); narrow the filter or time range, or retry',
        path: formatted.path,
        locations: formatted.locations,
        extensions: { code: 'QUERY_TIMEOUT' },
      };
    }
    const internal = formatted.extensions?.code === 'INTERNAL_SERVER_ERROR' || (formatted.extensions?.code === undefined && original instanceof Error && !(original instanceof GraphQLError));
    if (internal && !production) return { ...formatted, extensions: { ...formatted.extensions, code: 'INTERNAL_SERVER_ERROR' } };
    if (internal) {
      return { message: 'Internal server error', path: formatted.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
    }
    return formatted;
  };
}

/** The `extensions.code` a client is answered for this error (as in production), e.g. for metrics. */
export function errorCode(error: GraphQLError): string {
  const formatted = formatError(true)(error.toJSON(), error);
  return typeof formatted.extensions?.code === 'string' ? formatted.extensions.code : 'INTERNAL_SERVER_ERROR';
}
