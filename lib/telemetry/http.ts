import type { IncomingMessage, ServerResponse } from 'node:http';
import { context } from '@opentelemetry/api';
import { CORRELATION_HEADER, correlationIdFrom } from '../correlation';
import { SpanKind, extractContext, traced, tracingEnabled } from './tracing';

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * One SERVER span per GraphQL request, continuing the caller's W3C `traceparent` when it sends one. The correlation
 * id is settled here (the caller's when well-formed, a new one otherwise) and written back into the request's header,
 * so the context function reads the same id that every span of the request carries. Other paths (health, metrics)
 * and everything with tracing off pass straight through.
 */
export function tracedHttp(service: string, handler: Handler): Handler {
  return (req, res) => {
    if (!tracingEnabled() || !req.url?.startsWith('/graphql')) return handler(req, res);
    const correlationId = correlationIdFrom(req.headers[CORRELATION_HEADER]);
    req.headers[CORRELATION_HEADER] = correlationId;
    const parent = extractContext(req.headers, correlationId);
    return context.with(parent, () =>
      traced(`${req.method ?? 'GET'} /graphql`, { 'sor.service': service, 'http.request.method': req.method ?? 'GET', 'url.path': '/graphql' }, async () => {
        await handler(req, res);
      }, { kind: SpanKind.SERVER }),
    );
  };
}
