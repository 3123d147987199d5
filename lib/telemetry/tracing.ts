import {
  type Attributes, type Context, type Link, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, context, createContextKey, propagation, trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { BatchSpanProcessor, NodeTracerProvider, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-node';

export { SpanKind };

/** The attribute every span of ours carries: the request's (or job's) correlation id. */
export const ATTR_CORRELATION_ID = 'sor.correlation_id';
const CORRELATION_KEY = createContextKey('sor.correlation_id');
const TRACER = 'sor-gateway';

/**
 * The one provider of this process, or null when tracing is off. Process-wide like the OpenTelemetry globals it
 * registers; every helper below checks it first, so with tracing off no span, context or attribute is ever built.
 */
let provider: NodeTracerProvider | null = null;

export function tracingEnabled(): boolean {
  return provider !== null;
}

/**
 * Tracing is off unless the standard variables ask for it: `OTEL_TRACES_EXPORTER=otlp` or an OTLP endpoint
 * (`OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`); `OTEL_SDK_DISABLED=true` or
 * `OTEL_TRACES_EXPORTER=none` turn it off whatever else is set.
 */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env['OTEL_SDK_DISABLED']?.trim().toLowerCase() === 'true') return false;
  const exporters = (env['OTEL_TRACES_EXPORTER'] ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (exporters.includes('none')) return false;
  return exporters.includes('otlp') || Boolean(env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
}

/** Puts the correlation id on every span at its start, from the context it starts in. */
class CorrelationIdProcessor implements SpanProcessor {
  onStart(span: Span, parent: Context): void {
    const id = parent.getValue(CORRELATION_KEY);
    if (typeof id === 'string') span.setAttribute(ATTR_CORRELATION_ID, id);
  }
  onEnd(): void {}
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export interface TracingOptions {
  /** `service.name` unless OTEL_SERVICE_NAME says otherwise. */
  service: string;
  /**
   * Where spans go. Default: the OTLP/HTTP exporter, configured by the OTEL_EXPORTER_OTLP_* variables, behind a
   * batch processor. Tests pass an in-memory exporter (exported span by span, so a test can wait on it).
   */
  exporter?: SpanExporter;
  env?: NodeJS.ProcessEnv;
}

export interface Tracing {
  /** Flushes pending spans and turns tracing off again (the process's globals are released). */
  shutdown(): Promise<void>;
}

/** Starts the process's tracer provider with W3C trace context propagation. Call before any server starts. */
export function startTracing(opts: TracingOptions): Tracing {
  if (provider) throw new Error('Tracing is already started in this process');
  const env = opts.env ?? process.env;
  const resource = detectResources({ detectors: [envDetector] }).merge(
    resourceFromAttributes({ [ATTR_SERVICE_NAME]: env['OTEL_SERVICE_NAME'] ?? opts.service }),
  );
  const exporting: SpanProcessor = opts.exporter ? new SimpleSpanProcessor(opts.exporter) : new BatchSpanProcessor(new OTLPTraceExporter());
  const started = new NodeTracerProvider({ resource, spanProcessors: [new CorrelationIdProcessor(), exporting] });
  started.register({ propagator: new W3CTraceContextPropagator() });
  provider = started;
  return {
    async shutdown() {
      await started.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
      provider = null;
    },
  };
}

/** Starts tracing when the OTEL_* variables ask for it (entry points call this first). */
export function startTracingFromEnv(service: string, env: NodeJS.ProcessEnv = process.env): Tracing | null {
  return tracingRequested(env) ? startTracing({ service, env }) : null;
}

export interface SpanOptions {
  kind?: SpanKind;
  /** Parent context (default: the active one). */
  parent?: Context;
  links?: Link[];
}

/**
 * Runs `fn` inside a new active span: errors are recorded on it and rethrown. With tracing off, just runs `fn`.
 * `attributes` may be a function so that callers build nothing when tracing is off.
 */
export function traced<T>(name: string, attributes: Attributes | (() => Attributes), fn: () => Promise<T>, opts: SpanOptions = {}): Promise<T> {
  if (!provider) return fn();
  const attrs = typeof attributes === 'function' ? attributes() : attributes;
  return trace.getTracer(TRACER).startActiveSpan(name, { kind: opts.kind ?? SpanKind.INTERNAL, attributes: attrs, links: opts.links }, opts.parent ?? context.active(), async (span) => {
    try {
      return await fn();
    } catch (err) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** A span that is not made active (for phases reported by start/end callbacks, such as Apollo's parsing). */
export function startSpan(name: string, attributes: Attributes = {}): Span | null {
  return provider ? trace.getTracer(TRACER).startSpan(name, { attributes }) : null;
}

/** The active context with the correlation id every span started in it will carry. */
export function withCorrelationId(ctx: Context, correlationId: string): Context {
  return ctx.setValue(CORRELATION_KEY, correlationId);
}

/** Writes the active trace context (`traceparent`, `tracestate`) through `set`: outgoing requests. */
export function injectTraceHeaders(set: (name: string, value: string) => void): void {
  if (!provider) return;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  for (const [name, value] of Object.entries(carrier)) set(name, value);
}

/** The active span's W3C `traceparent`, stored with a job so its spans join the trace that enqueued it. */
export function currentTraceparent(): string | null {
  if (!provider) return null;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier['traceparent'] ?? null;
}

/** A context continuing the trace of incoming headers (or a stored `traceparent`), with the correlation id. */
export function extractContext(headers: Record<string, string | string[] | undefined>, correlationId: string): Context {
  return withCorrelationId(propagation.extract(ROOT_CONTEXT, headers), correlationId);
}

/** A link to the span a context holds (a job's span links to the request that enqueued it). */
export function linkTo(ctx: Context): Link[] {
  const span = trace.getSpanContext(ctx);
  return span ? [{ context: span, attributes: { 'sor.link': 'enqueued-by' } }] : [];
}
