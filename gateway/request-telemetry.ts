import type { ApolloServerPlugin } from '@apollo/server';
import type { Logger } from '../lib/logger';
import {
  graphqlDuration, graphqlErrors, graphqlRequests, rateLimitRefusals, responseCacheLookups,
} from '../lib/telemetry/gateway-metrics';
import { operationLabel, tenantLabel } from '../lib/telemetry/registry';
import type { GatewayContext } from './context';

export interface RequestTelemetryOptions {
  logger: Logger;
  /** Count response cache hits and misses (only when the cache plugin runs). @default false */
  responseCache?: boolean;
}

/**
 * Once per answered request: RED metrics by operation (bounded names) and tenant (allow-listed), cache hit or miss,
 * rate-limit refusals by token kind, and one info log line (operation, duration, status, tenant, principal kind,
 * correlation id, error codes; never the token). Requests refused before a context exists (no or bad token) are
 * answered by Apollo without running plugins, so they are in neither.
 */
export function requestTelemetryPlugin(opts: RequestTelemetryOptions): ApolloServerPlugin<GatewayContext> {
  const { logger } = opts;
  return {
    async requestDidStart() {
      const started = performance.now();
      return {
        async willSendResponse({ request, operation, operationName, response, contextValue, errors, metrics }) {
          const seconds = (performance.now() - started) / 1000;
          const name = operationName ?? request.operationName ?? null;
          const op = operationLabel(name);
          const type = operation?.operation ?? 'unknown';
          const p = contextValue.principal;
          const tenant = tenantLabel(p.tenant);
          const status = response.http.status ?? 200;
          const codes = [...new Set((errors ?? []).map((e) => String(e.extensions['code'] ?? 'INTERNAL_SERVER_ERROR')))];
          graphqlRequests.inc({ operation: op, type, tenant });
          graphqlDuration.observe({ operation: op, type }, seconds);
          for (const code of codes) graphqlErrors.inc({ operation: op, code, tenant });
          if (codes.includes('RATE_LIMITED')) rateLimitRefusals.inc({ kind: p.kind });
          if (opts.responseCache && type === 'query') responseCacheLookups.inc({ result: metrics.responseCacheHit ? 'hit' : 'miss' });
          // Built only when it will be written (benches and quiet deployments run at warn).
          if (logger.isLevelEnabled('info')) logger.info(
            { operationName: name, durationMs: Math.round(seconds * 10_000) / 10, status, tenant: p.tenant, principalKind: p.kind, correlationId: contextValue.correlationId, ...(codes.length ? { errorCodes: codes } : {}) },
            'request',
          );
        },
      };
    },
  };
}
