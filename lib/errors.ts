import { GraphQLError } from 'graphql';

/** What the API promises about one `extensions.code`. */
export interface ErrorSpec {
  /** The HTTP status of a request refused with this code (see `refusal`). */
  status: number;
  /** Its messages were written for clients; any other code's message is masked in production (lib/format-error.ts). */
  safe: boolean;
  /**
   * A response whose `data` is null and whose errors all carry such codes is answered with `status` (403 when every
   * root field was denied, 503 when the systems behind them were down); otherwise a response with errors beside data
   * stays 2xx (gateway/response-status.ts).
   */
  whenNoData?: true;
}

/**
 * The one registry of error codes. Clients switch on these, never on messages. Every plugin, subgraph and the
 * production formatter take codes from here, so a code cannot be refused with one status in one place and masked as
 * internal in another. Add a code here before using it anywhere.
 */
export const ERRORS = {
  // Caller and request
  UNAUTHENTICATED: { status: 401, safe: true },
  FORBIDDEN: { status: 403, safe: true, whenNoData: true },
  BAD_USER_INPUT: { status: 400, safe: true },
  BAD_REQUEST: { status: 400, safe: true },
  NOT_FOUND: { status: 404, safe: true },
  CONFLICT: { status: 409, safe: true },
  ILLEGAL_STATE_TRANSITION: { status: 409, safe: true },
  METHOD_NOT_ALLOWED: { status: 405, safe: true },
  PAYLOAD_TOO_LARGE: { status: 413, safe: true },
  // Documents (Apollo Server's own codes, and our limits)
  GRAPHQL_PARSE_FAILED: { status: 400, safe: true },
  GRAPHQL_VALIDATION_FAILED: { status: 400, safe: true },
  PERSISTED_QUERY_NOT_FOUND: { status: 400, safe: true },
  PERSISTED_QUERY_NOT_SUPPORTED: { status: 400, safe: true },
  OPERATION_RESOLUTION_FAILURE: { status: 400, safe: true },
  SUBSCRIPTION_REQUIRES_WEBSOCKET: { status: 400, safe: true },
  COST_LIMIT_EXCEEDED: { status: 400, safe: true },
  DEPTH_LIMIT_EXCEEDED: { status: 400, safe: true },
  ALIAS_LIMIT_EXCEEDED: { status: 400, safe: true },
  ROOT_FIELD_LIMIT_EXCEEDED: { status: 400, safe: true },
  TOKEN_LIMIT_EXCEEDED: { status: 400, safe: true },
  INTROSPECTION_DISABLED: { status: 403, safe: true },
  OPERATION_NOT_ALLOWED: { status: 403, safe: true },
  // Limits
  RATE_LIMITED: { status: 429, safe: true },
  SUBSCRIPTION_LIMIT: { status: 429, safe: true },
  // Systems behind the gateway
  UNRESOLVED_REFERENCE: { status: 502, safe: true },
  UPSTREAM_UNAVAILABLE: { status: 503, safe: true },
  SUBGRAPH_UNAVAILABLE: { status: 503, safe: true, whenNoData: true },
  SERVICE_UNAVAILABLE: { status: 503, safe: true, whenNoData: true },
  // Everything else: the message is ours, not the client's
  INTERNAL_SERVER_ERROR: { status: 500, safe: false },
} as const satisfies Record<string, ErrorSpec>;

/** Stable `extensions.code` values. */
export type ErrorCode = keyof typeof ERRORS;

export const isErrorCode = (code: unknown): code is ErrorCode => typeof code === 'string' && Object.hasOwn(ERRORS, code);

/** The registry entry of a code found on an error; unknown codes are internal. */
export function specOf(code: unknown): ErrorSpec {
  return isErrorCode(code) ? ERRORS[code] : ERRORS.INTERNAL_SERVER_ERROR;
}

/**
 * An error on a field (partial results): no HTTP status of its own, the response stays 2xx while it has data.
 * Resolvers and subgraphs use this one.
 */
export function fieldError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extensions } });
}

/** An error that refuses the whole request (gateway plugins, context functions): carries the code's HTTP status. */
export function refusal(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extensions, http: { status: ERRORS[code].status } } });
}

export const badUserInput = (field: string, message: string): GraphQLError =>
  fieldError('BAD_USER_INPUT', `Invalid value for "${field}": ${message}`, { field });

export const notFound = (type: string, id: string): GraphQLError =>
  fieldError('NOT_FOUND', `${type} "${id}" was not found`, { type });

export const unauthenticated = (message: string): GraphQLError => refusal('UNAUTHENTICATED', message);

/**
 * FORBIDDEN is a field error on purpose: subgraphs deny single fields inside a 200 response (partial results); a
 * subgraph answering 403 would make the gateway fail the whole fetch. The gateway answers 403 itself when nothing but
 * denials came back (gateway/response-status.ts).
 */
export const forbidden = (message = 'You are not allowed to do this'): GraphQLError => fieldError('FORBIDDEN', message);

export const conflict = (message: string): GraphQLError => fieldError('CONFLICT', message);

/**
 * A domain rule said no (posting a void invoice, cancelling a cancelled subscription). `domainCode` is stable
 * and namespaced by system, e.g. `ERP.INVOICE_NOT_DRAFT`.
 */
export const illegalTransition = (domainCode: string, message: string): GraphQLError =>
  fieldError('ILLEGAL_STATE_TRANSITION', message, { domainCode });

export function errorCode(err: unknown): string | undefined {
  if (err instanceof GraphQLError) {
    const code = err.extensions['code'];
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
