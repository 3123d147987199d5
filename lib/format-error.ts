import type { GraphQLFormattedError } from 'graphql';

/** Codes whose messages were written for clients; anything else is internal and masked in production. */
const CLIENT_SAFE = new Set([
  'UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'NOT_FOUND', 'CONFLICT', 'ILLEGAL_STATE_TRANSITION', 'RATE_LIMITED',
  'GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_REQUEST', 'PERSISTED_QUERY_NOT_FOUND', 'OPERATION_RESOLUTION_FAILURE',
  'COST_LIMIT_EXCEEDED', 'UPSTREAM_UNAVAILABLE', 'DEPTH_LIMIT_EXCEEDED', 'ALIAS_LIMIT_EXCEEDED', 'ROOT_FIELD_LIMIT_EXCEEDED',
  'TOKEN_LIMIT_EXCEEDED', 'INTROSPECTION_DISABLED', 'OPERATION_NOT_ALLOWED', 'PAYLOAD_TOO_LARGE', 'SUBSCRIPTION_LIMIT',
  'SERVICE_UNAVAILABLE',
]);

/**
 * Production error formatting: messages of unknown errors (SQL, stack traces, driver text) are replaced; the code and
 * the correlation id stay so support can find the log line.
 */
export function errorFormatter(production: boolean) {
  return (formatted: GraphQLFormattedError, _error?: unknown): GraphQLFormattedError => {
    if (!production) return formatted;
    const code = typeof formatted.extensions?.['code'] === 'string' ? formatted.extensions['code'] : 'INTERNAL_SERVER_ERROR';
    const { stacktrace: _stack, exception: _exception, ...extensions } = formatted.extensions ?? {};
    if (CLIENT_SAFE.has(code)) return { ...formatted, extensions };
    return {
      message: 'Internal server error',
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions: { code: 'INTERNAL_SERVER_ERROR', ...(extensions['correlationId'] ? { correlationId: extensions['correlationId'] } : {}) },
    };
  };
}
