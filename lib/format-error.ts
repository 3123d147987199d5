import { trace } from '@opentelemetry/api';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { specOf } from './errors';

/** What the server keeps of an error whose message a production client does not see. */
export interface MaskedError {
  code: string;
  correlationId: string | undefined;
  /** The active OpenTelemetry trace, when tracing is on (the no-op API gives none). */
  traceId: string | undefined;
  message: string;
  stack: string | undefined;
  /** The subgraph the error came from, when the gateway got it from one. */
  serviceName: string | undefined;
}

export interface ErrorFormatOptions {
  production: boolean;
  /** Keep `extensions.stacktrace` (development only, `DEBUG_ERRORS=1`). @default false */
  debug?: boolean;
  /** Called for every error masked in production, so the log has what the client no longer sees. */
  onMasked?: (masked: MaskedError) => void;
}

/** The thrown error behind a GraphQLError (a resolver's TypeError, a driver error), else the error itself. */
function rootCause(error: unknown): unknown {
  let cause = error;
  while (cause instanceof GraphQLError && cause.originalError) cause = cause.originalError;
  return cause;
}

/**
 * Error formatting for every server: stack traces only when debugging; in production, messages of codes the registry
 * (lib/errors.ts) does not mark safe (SQL, driver text, bugs) are replaced, keeping the path, the code and the
 * correlation id so support can find the log line `onMasked` writes.
 */
export function errorFormatter(opts: ErrorFormatOptions) {
  return (formatted: GraphQLFormattedError, error?: unknown): GraphQLFormattedError => {
    const { stacktrace, exception: _exception, ...extensions } = formatted.extensions ?? {};
    const kept = opts.debug && !opts.production && stacktrace !== undefined ? { ...extensions, stacktrace } : extensions;
    const code = typeof extensions['code'] === 'string' ? extensions['code'] : 'INTERNAL_SERVER_ERROR';
    if (!opts.production || specOf(code).safe) return { ...formatted, extensions: kept };
    const correlationId = typeof extensions['correlationId'] === 'string' ? extensions['correlationId'] : undefined;
    const cause = rootCause(error);
    opts.onMasked?.({
      code,
      correlationId,
      traceId: trace.getActiveSpan()?.spanContext().traceId,
      message: formatted.message,
      stack: cause instanceof Error ? cause.stack : Array.isArray(stacktrace) ? stacktrace.join('\n') : undefined,
      serviceName: typeof extensions['serviceName'] === 'string' ? extensions['serviceName'] : undefined,
    });
    return {
      message: 'Internal server error',
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions: { code: 'INTERNAL_SERVER_ERROR', ...(correlationId ? { correlationId } : {}) },
    };
  };
}
