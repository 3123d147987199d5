import type { ApolloServerPlugin } from '@apollo/server';
import { Kind } from 'graphql';
import type { Db } from '../lib/db/db';
import type { Logger } from '../lib/logger';
import type { GatewayContext } from './context';

const SECRET = /pass(word)?|secret|token|api[-_]?key|card|iban|cvc|ssn/i;

/** Replaces values of secret-looking keys at any depth, so the audit log never stores credentials. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET.test(k) ? '[REDACTED]' : redact(v)]));
  }
  return value;
}

/**
 * Records every mutation attempt (who, tenant, token kind, operation, redacted arguments, outcome, correlation id) in
 * Postgres once it is answered, refused ones included (outcome FAILED with the refusal's code). Tenant admins read it through `auditEntries` on the sync subgraph. A failed audit write is
 * logged loudly but does not turn a committed mutation into an error.
 */
export function auditPlugin(db: Db, logger: Logger): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ operation, request, response, contextValue, errors }) {
          if (operation?.operation !== 'mutation') return;
          const p = contextValue.principal;
          const fields = operation.selectionSet.selections.flatMap((s) => (s.kind === Kind.FIELD ? [s.name.value] : []));
          const codes = (errors ?? []).map((e) => String(e.extensions['code'] ?? 'INTERNAL_SERVER_ERROR'));
          const data = response.body.kind === 'single' ? response.body.singleResult.data : null;
          const outcome = codes.length === 0 ? 'SUCCEEDED' : data && Object.values(data).some((v) => v !== null) ? 'PARTIAL' : 'FAILED';
          await db
            .query(
              `INSERT INTO sync.audit_log (tenant_id, principal, token_kind, operation_name, fields, arguments, outcome, error_codes, correlation_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
              [p.tenant, p.sub, p.kind, request.operationName ?? operation.name?.value ?? null, fields, JSON.stringify(redact(request.variables ?? {})), outcome, codes, contextValue.correlationId],
            )
            .catch((err: unknown) => logger.error({ err, correlationId: contextValue.correlationId }, 'audit log write failed'));
        },
      };
    },
  };
}
