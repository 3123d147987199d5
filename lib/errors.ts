import { GraphQLError } from 'graphql';

/** Stable `extensions.code` values. Clients switch on these, never on messages. */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'ILLEGAL_STATE_TRANSITION'
  | 'RATE_LIMITED'
  | 'UPSTREAM_UNAVAILABLE'
  | 'SERVICE_UNAVAILABLE'
  | 'INTERNAL_SERVER_ERROR';

/**
 * Codes that refuse the whole HTTP request. FORBIDDEN is not here on purpose: subgraphs deny single fields inside a
 * 200 response (partial results); a subgraph answering 403 would make the gateway fail the whole fetch. The gateway
 * turns an all-denied response into 403 itself (gateway/denial-status.ts).
 */
const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  RATE_LIMITED: 429,
};

function error(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  const status = HTTP_STATUS[code];
  return new GraphQLError(message, { extensions: { code, ...extensions, ...(status ? { http: { status } } : {}) } });
}

export const badUserInput = (field: string, message: string): GraphQLError =>
  error('BAD_USER_INPUT', `Invalid value for "${field}": ${message}`, { field });

export const notFound = (type: string, id: string): GraphQLError =>
  error('NOT_FOUND', `${type} "${id}" was not found`, { type });

export const unauthenticated = (message: string): GraphQLError => error('UNAUTHENTICATED', message);

export const forbidden = (message = 'You are not allowed to do this'): GraphQLError => error('FORBIDDEN', message);

export const conflict = (message: string): GraphQLError => error('CONFLICT', message);

/**
 * A domain rule said no (posting a void invoice, cancelling a cancelled subscription). `domainCode` is stable
 * and namespaced by system, e.g. `ERP.INVOICE_NOT_DRAFT`.
 */
export const illegalTransition = (domainCode: string, message: string): GraphQLError =>
  error('ILLEGAL_STATE_TRANSITION', message, { domainCode });

/**
 * A dependency of ours (the database) is unreachable for a moment: retry later. No HTTP status here on purpose, as
 * for FORBIDDEN: a subgraph answering 503 would lose the typed error at the gateway, which answers 503 itself when a
 * response has no data (gateway/service-unavailable.ts).
 */
export const serviceUnavailable = (message: string): GraphQLError => error('SERVICE_UNAVAILABLE', message, { retryable: true });

export function errorCode(err: unknown): string | undefined {
  if (err instanceof GraphQLError) {
    const code = err.extensions['code'];
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
