import { createHash } from 'node:crypto';
import type { ApolloServerPlugin, GraphQLRequestContextResponseForOperation, GraphQLResponse } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import type { FormattedExecutionResult } from 'graphql';
import type { Principal, Scope } from '../lib/auth/principal';
import type { Db } from '../lib/db/db';
import { ERRORS, type ErrorCode, errorCode } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { GatewayContext } from './context';
import { missingMutationScope, rootFieldNodes } from './root-fields';
import { redactSecretValues } from './audit';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
const KEY = /^[A-Za-z0-9._:-]{1,255}$/;
/** Keys are kept at least this long (and swept after). */
const RETENTION = '24 hours';

/** Who owns a key: the token kind is part of the caller's identity. */
const principalKey = (p: Principal): string => `${p.kind}:${p.sub}`;

/** Errors are returned as responses: Apollo reports an error thrown from responseForOperation as a 500. */
function refused(code: ErrorCode, message: string): GraphQLResponse {
  return { http: { status: ERRORS[code].status, headers: new HeaderMap() }, body: { kind: 'single', singleResult: { errors: [{ message, extensions: { code } }] } } };
}

/**
 * `Idempotency-Key` for mutations: the first request with a key runs and its response is stored in Postgres; a retry
 * with the same key and the same operation gets the stored response (`idempotent-replayed: true`) and writes nothing;
 * the same key with a different operation is a CONFLICT (409). Keys are per tenant and principal (token kind and
 * `sub`: a service token and a user token with the same `sub` are different callers), and a replay is authorized from
 * the policy table first: a caller without the mutation's scopes gets FORBIDDEN, not the stored answer.
 *
 * A key whose first request never finished (the gateway died mid-request) stays "in progress": it answers CONFLICT
 * rather than running again, because the first attempt may already have written.
 */
/** Codes that say a system was away and nothing ran: such an answer is not stored for the key. */
const RETRYABLE = new Set(['SERVICE_UNAVAILABLE', 'SUBGRAPH_UNAVAILABLE']);

/** How long a key whose request ran nothing keeps being released while its store is away. */
const RELEASE_FOR_MS = 120_000;

export function idempotencyPlugin(db: Db, logger: Logger, scopes: ReadonlyMap<string, Scope | 'public'>): ApolloServerPlugin<GatewayContext> {
  const owned = new WeakMap<GatewayContext, { key: string; hash: string }>();
  /** Keys whose release could not land yet (the store was away), by tenant, principal and key. */
  const pending = new Set<string>();
  const pendingId = (params: readonly [string, string, string]): string => JSON.stringify(params);
  const release = async (params: readonly [string, string, string]): Promise<void> => {
    await db.query('DELETE FROM sync.idempotency_keys WHERE tenant_id = $1 AND principal = $2 AND key = $3 AND response IS NULL', [...params]);
    pending.delete(pendingId(params));
  };
  /**
   * Releases a key whose request ran nothing (a system was away) before the answer goes out, so the client's retry
   * runs. The store is often away for the same reason: then the release is retried in the background with backoff
   * until it lands, since a key left "in progress" would answer CONFLICT forever to a retry known to be safe. A retry
   * that reaches this instance first (the client retries sooner than the backoff) releases the key itself.
   */
  const releaseKey = async (params: readonly [string, string, string]): Promise<void> => {
    try {
      await release(params);
    } catch {
      pending.add(pendingId(params));
      const startedAt = Date.now();
      const retry = (delayMs: number): void => {
        setTimeout(() => {
          release(params).catch((err: unknown) => {
            if (Date.now() - startedAt > RELEASE_FOR_MS) {
              pending.delete(pendingId(params));
              logger.warn({ err, key: params[2] }, 'idempotency key could not be released');
            } else retry(Math.min(delayMs * 2, 1_000));
          });
        }, delayMs).unref();
      };
      retry(100);
    }
  };
  return {
    async requestDidStart({ request }) {
      const header = request.http?.headers.get(IDEMPOTENCY_HEADER);
      if (!header) return {};
      const key: string = header;
      return {
        async responseForOperation(args): Promise<GraphQLResponse | null> {
          try {
            return await claimOrReplay(args);
          } catch (err) {
            // The key store is away (Postgres restarting): a typed, retryable refusal, nothing ran.
            if (errorCode(err) === 'SERVICE_UNAVAILABLE') return refused('SERVICE_UNAVAILABLE', 'The database is unavailable, retry shortly');
            throw err;
          }
        },
        async willSendResponse({ response, contextValue }) {
          const mine = owned.get(contextValue);
          if (!mine || response.body.kind !== 'single') return;
          const p = contextValue.principal;
          const { data, errors } = response.body.singleResult;
          // Nothing ran because a system was away: release the key so that the retry runs, instead of replaying the
          // outage forever.
          const retryable = data == null && !!errors?.length && errors.every((e) => RETRYABLE.has(String(e.extensions?.['code'])));
          if (retryable) {
            await releaseKey([p.tenant, principalKey(p), mine.key]);
            return;
          }
          try {
            await db.query(
              'UPDATE sync.idempotency_keys SET status = $4, response = $5 WHERE tenant_id = $1 AND principal = $2 AND key = $3',
              // A secret shown once (a webhook signing secret) is not kept: a replay of such an answer shows it redacted.
              [p.tenant, principalKey(p), mine.key, response.http.status ?? 200, JSON.stringify(redactSecretValues(response.body.singleResult))],
            );
          } catch (err) {
            // The answer still goes out; the key stays "in progress" (CONFLICT on retry: the write may have happened).
            logger.warn({ err, key: mine.key }, 'idempotency key could not be recorded');
          }
        },
      };

      async function claimOrReplay({ document, operation, request: req, contextValue }: GraphQLRequestContextResponseForOperation<GatewayContext>): Promise<GraphQLResponse | null> {
          if (operation.operation !== 'mutation') return null;
          if (!KEY.test(key)) return refused('BAD_USER_INPUT', 'Idempotency-Key must be 1-255 characters of A-Z a-z 0-9 . _ : -');
          const p = contextValue.principal;
          const who = principalKey(p);
          // The caller's scopes are part of the request: a stored answer holds fields as that scope set could see them (a
          // credit limit, a job message's values), so a retry with other scopes must not get it (CONFLICT below).
          const hash = createHash('sha256').update(JSON.stringify([req.query, req.operationName ?? null, req.variables ?? {}, [...p.scopes].sort()])).digest('hex');
          const claim = () =>
            db.query(
              `INSERT INTO sync.idempotency_keys (tenant_id, principal, key, request_hash) VALUES ($1, $2, $3, $4)
               ON CONFLICT (tenant_id, principal, key) DO NOTHING RETURNING key`,
              [p.tenant, who, key, hash],
            );
          let claimed = await claim();
          const params = [p.tenant, who, key] as const;
          if (claimed.length === 0 && pending.has(pendingId(params))) {
            // This key's last request ran nothing and its release is still waiting for the store: release it now.
            await release(params);
            claimed = await claim();
          }
          if (claimed.length > 0) {
            owned.set(contextValue, { key, hash });
            // Now and then, off the request's path: a failed sweep must not fail (and so strand) the key just claimed.
            if (Math.random() < 0.01) {
              db.query(`DELETE FROM sync.idempotency_keys WHERE created_at < now() - interval '${RETENTION}'`).catch((err: unknown) => logger.warn({ err }, 'idempotency key sweep failed'));
            }
            return null;
          }
          // A replay answers without running the mutation, so without the subgraphs' checks: authorize it here, as
          // they would, before saying anything about the key.
          const missing = missingMutationScope(scopes, p, rootFieldNodes(document, operation));
          if (missing) return refused('FORBIDDEN', `Requires scope ${missing}`);
          const [row] = await db.query<{ request_hash: string; status: number | null; response: string | null }>(
            'SELECT request_hash, status, response FROM sync.idempotency_keys WHERE tenant_id = $1 AND principal = $2 AND key = $3',
            [p.tenant, who, key],
          );
          if (!row || row.request_hash !== hash) return refused('CONFLICT', 'Idempotency-Key was already used with a different request or other scopes');
          if (row.response === null) return refused('CONFLICT', 'A request with this Idempotency-Key is in progress or was interrupted');
          const headers = new HeaderMap([['idempotent-replayed', 'true']]);
          return { http: { status: row.status ?? 200, headers }, body: { kind: 'single', singleResult: JSON.parse(row.response) as FormattedExecutionResult } };
      }
    },
  };
}
