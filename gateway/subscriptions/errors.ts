import type { GraphQLError, GraphQLFormattedError } from 'graphql';
import { errorFormatter } from '../../lib/format-error';
import type { Logger } from '../../lib/logger';

/**
 * Errors sent over the WebSocket, shaped as on HTTP: every one has `extensions.code` (INTERNAL_SERVER_ERROR when
 * nothing said otherwise) and the subscription's `correlationId`; production masks what is not client-safe, and
 * what it masks is logged with the id, so support can find it.
 */
export function wsErrorFormatter(production: boolean, logger: Logger) {
  const base = errorFormatter({
    production,
    onMasked: ({ stack, ...masked }) => logger.error({ ...masked, err: { message: masked.message, stack } }, 'masked subscription error'),
  });
  return (error: GraphQLError, correlationId: string): GraphQLFormattedError => {
    // `http` (status, headers) means nothing on a WebSocket.
    const { http: _http, ...extensions } = error.toJSON().extensions ?? {};
    const code = typeof extensions['code'] === 'string' ? extensions['code'] : 'INTERNAL_SERVER_ERROR';
    return base({ ...error.toJSON(), extensions: { ...extensions, code, correlationId } }, error);
  };
}
