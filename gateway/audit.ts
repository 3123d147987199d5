import type { ApolloServerPlugin } from '@apollo/server';
import {
  type DocumentNode, type FieldNode, type GraphQLSchema, type OperationDefinitionNode, getArgumentValues, getOperationAST,
  valueFromASTUntyped,
} from 'graphql';
import type { Db } from '../lib/db/db';
import type { Logger } from '../lib/logger';
import type { GatewayContext } from './context';
import { coercedVariables } from './cost';
import { rootFieldNodes } from './root-fields';

/** Arguments and input fields whose values are secrets, whatever they hold. */
const SECRET_NAME = /pass(word)?|^pwd?$|secret|token|api[-_]?key|credential|authori[sz]ation|private[-_]?key|signature|card|iban|cvc|ssn/i;

/** Values that are secrets wherever they appear (a token pasted into a `name`, a key in a note). */
const SECRET_VALUE = [
  /^\s*bearer\s+\S/i,
  /^eyJ[\w-]+\.[\w-]+\.[\w-]*$/, // a JWT
  /\b(sk|rk)_(live|test)_[0-9A-Za-z]{8,}/, // Stripe secret and restricted keys
  /\bwhsec_[0-9A-Za-z+/=]{8,}/, // webhook signing secrets (Standard Webhooks: base64 after the prefix)
  /\bpat-[a-z]{2}\d?-[0-9a-f-]{20,}/i, // HubSpot private app tokens
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
];

const REDACTED = '[REDACTED]';

/** Nesting kept in the log; deeper input (refused anyway) is cut, so recording it cannot overflow the stack. */
const MAX_RECORDED_DEPTH = 32;

/**
 * Replaces secrets at any depth: values under secret-looking names (unless `byName` is false), and values shaped
 * like credentials.
 */
export function redact(value: unknown, depth = 0, byName = true): unknown {
  if (typeof value === 'string') return SECRET_VALUE.some((shape) => shape.test(value)) ? REDACTED : value;
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= MAX_RECORDED_DEPTH) return '[TOO DEEP]';
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1, byName));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, byName && SECRET_NAME.test(k) ? REDACTED : redact(v, depth + 1, byName)]));
}

/**
 * Only values shaped like credentials, names left alone: for stored answers (a signing secret shown once must not be
 * kept in clear), which keep their shape.
 */
export const redactSecretValues = (value: unknown): unknown => redact(value, 0, false);

/**
 * The arguments of each root field as the operation gives them to execution, keyed by response name: literals and
 * variables alike, variables with the operation's defaults, field defaults filled in. What does not coerce (a
 * refused request) is recorded as written.
 */
export function executedArguments(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  fields: readonly FieldNode[],
  variables: Record<string, unknown>,
): Record<string, Record<string, unknown>> {
  const coerced = coercedVariables(schema, operation, variables);
  const root = schema.getRootType(operation.operation);
  return Object.fromEntries(
    fields.map((node) => {
      const def = root?.getFields()[node.name.value];
      let args: Record<string, unknown>;
      try {
        if (!def) throw new Error('unknown field');
        args = getArgumentValues(def, node, coerced);
      } catch {
        args = Object.fromEntries((node.arguments ?? []).map((a) => [a.name.value, valueFromASTUntyped(a.value, coerced)]));
      }
      return [node.alias?.value ?? node.name.value, args];
    }),
  );
}

/** The mutation a request asked for, resolved or not (validation refusals never get a resolved operation). */
function requestedMutation(document: DocumentNode | undefined, operationName: string | undefined): { document: DocumentNode; operation: OperationDefinitionNode } | null {
  if (!document) return null;
  const operation = getOperationAST(document, operationName);
  return operation?.operation === 'mutation' ? { document, operation } : null;
}

/**
 * Records every mutation attempt (who, tenant, token kind, operation, the arguments as executed with secrets
 * redacted, outcome, correlation id) in Postgres once it is answered: refused ones included, those refused in
 * validation too (outcome FAILED with the refusal's codes). Tenant admins read it through `auditEntries` on the sync
 * subgraph. A failed audit write is logged loudly but does not turn a committed mutation into an error.
 */
export function auditPlugin(db: Db, logger: Logger): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ document, operation: resolved, schema, request, response, contextValue, errors }) {
          const found = resolved ? (resolved.operation === 'mutation' ? { document, operation: resolved } : null) : requestedMutation(document, request.operationName);
          if (!found?.document) return;
          const { operation } = found;
          const p = contextValue.principal;
          const nodes = rootFieldNodes(found.document, operation);
          const fields = nodes.map((n) => n.name.value);
          const args = redact(executedArguments(schema, operation, nodes, request.variables ?? {}));
          const codes = (errors ?? []).map((e) => String(e.extensions['code'] ?? 'INTERNAL_SERVER_ERROR'));
          const data = response.body.kind === 'single' ? response.body.singleResult.data : null;
          const outcome = codes.length === 0 ? 'SUCCEEDED' : data && Object.values(data).some((v) => v !== null) ? 'PARTIAL' : 'FAILED';
          await db
            .query(
              `INSERT INTO sync.audit_log (tenant_id, principal, token_kind, operation_name, fields, arguments, outcome, error_codes, correlation_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
              [p.tenant, p.sub, p.kind, request.operationName ?? operation.name?.value ?? null, fields, JSON.stringify(args), outcome, codes, contextValue.correlationId],
            )
            .catch((err: unknown) => logger.error({ err, correlationId: contextValue.correlationId }, 'audit log write failed'));
        },
      };
    },
  };
}
