import { AuthError, PermanentError, TransientError } from '../../../lib/connectors/errors';
import { type PolicyOutbound, policyOutbound } from '../../../lib/connectors/outbound-policy';
import type { Logger } from '../../../lib/logger';
import type { SystemName } from '../../../lib/outbox';
import type { BillingRemote, BillingWebhooks } from '../../billing/connector/remote-port';
import type { CrmRemote } from '../../crm/connector/remote-port';
import type { ErpRemote } from '../../erp/connector/remote-port';
import { type AdapterDefinition, type AdapterInput, adapterFor, outboundSettings } from './adapters';
import type { ConnectionModel } from './models';
import type { ConnectionStore } from './store';
import { type CircuitState as CircuitMetricState, circuitStateChanged } from '../../../lib/telemetry/sync-metrics';

const circuitOf = (o: PolicyOutbound): CircuitMetricState => (o.circuit() === 'OPEN' ? 'open' : o.circuit() === 'HALF_OPEN' ? 'half_open' : 'closed');

/** A connection made usable: its adapter instances share one Outbound (one breaker, one rate limit). */
interface Live {
  version: string;
  outbound: PolicyOutbound;
  input: AdapterInput;
  definition: AdapterDefinition;
  billing?: BillingRemote;
  webhooks?: BillingWebhooks;
  crm?: CrmRemote;
  erp?: ErpRemote;
}

export interface ConnectionTest {
  ok: boolean;
  accountId: string | null;
  errorCode: string | null;
  message: string | null;
}

export interface ConnectionRuntime {
  store: ConnectionStore;
  /** The tenant's enabled connection of `system`, null for the reference store. Cached for `cacheMs`. */
  connectionFor(tenant: string, system: SystemName): Promise<ConnectionModel | null>;
  /** The remote billing system of a connection (null for `reference`). */
  billingRemote(connection: ConnectionModel): Promise<BillingRemote | null>;
  billingWebhooks(connection: ConnectionModel): Promise<BillingWebhooks | null>;
  /** The remote CRM / ERP of a connection (HubSpot, Odoo); null for `reference`. */
  crmRemote(connection: ConnectionModel): Promise<CrmRemote | null>;
  erpRemote(connection: ConnectionModel): Promise<ErpRemote | null>;
  /** One authenticated call with the stored credentials. */
  test(connection: ConnectionModel): Promise<ConnectionTest>;
  /** Drops what this process cached for the connection (after a rotation, disable or create). */
  forget(connection: ConnectionModel): void;
  /** The breaker state of the connection in this process, when it has been used here. */
  circuit(connectionId: string): 'CLOSED' | 'OPEN' | 'HALF_OPEN' | null;
}

/**
 * Builds adapters from connections, one Outbound per connection whose health changes are written back to the
 * connection row (what `connection.status` shows). Adapters are rebuilt when the connection's `updatedAt` changes
 * (credentials rotated), so a rotation takes effect at the next job without a restart; the cache of which connection
 * a tenant uses lives `cacheMs` (other processes see a change within that time).
 */
export function connectionRuntime(store: ConnectionStore, logger: Logger, opts: { cacheMs?: number } = {}): ConnectionRuntime {
  const cacheMs = opts.cacheMs ?? 2000;
  const chosen = new Map<string, { at: number; value: Promise<ConnectionModel | null> }>();
  const live = new Map<string, Live>();
  const health = new Map<string, PolicyOutbound>();

  const outboundFor = (c: ConnectionModel, def: AdapterDefinition, input: Pick<AdapterInput, 'settings' | 'credentials'>): PolicyOutbound => {
    // One breaker and one pacing per connection for the life of the process, across credential rotations.
    const existing = health.get(c.id);
    if (existing) return existing;
    const s = input.settings;
    // The /metrics gauge of circuits by vendor and system (sor_connector_circuits).
    const metricLabels = { id: c.id, vendor: c.adapter, system: c.system };
    const outbound: PolicyOutbound = policyOutbound({
      maxRequestsPerSecond: s.maxRequestsPerSecond ?? def.defaultRequestsPerSecond?.(input.credentials) ?? 25,
      timeoutMs: s.timeoutMs, breakAfter: s.breakAfter, halfOpenAfterMs: s.halfOpenAfterMs,
      onHealth: (state, error) => {
        circuitStateChanged(metricLabels, state === 'CIRCUIT_OPEN' ? 'open' : circuitOf(outbound));
        logger.warn({ connectionId: c.id, tenant: c.tenant, state, error }, 'connection health changed');
        store.setHealth(c.id, state, error).catch((err: unknown) => logger.error({ err, connectionId: c.id }, 'could not store connection health'));
      },
    });
    health.set(c.id, outbound);
    circuitStateChanged(metricLabels, 'closed');
    return outbound;
  };

  const liveFor = async (c: ConnectionModel): Promise<Live | null> => {
    const def = adapterFor(c.adapter, c.system);
    if (!def || !def.needsCredentials) return null;
    const cached = live.get(c.id);
    if (cached && cached.version === c.updatedAt) return cached;
    const credentials = await store.credentialsOf(c);
    if (!credentials) throw new AuthError(`connection ${c.id} has no credentials`);
    const base = { connection: c, credentials, settings: outboundSettings.parse(c.settings) };
    const outbound = outboundFor(c, def, base);
    // A rotation clears AUTH_ERROR in the row; the process's view follows.
    if (c.state !== 'AUTH_ERROR') outbound.reset();
    const input: AdapterInput = { ...base, outbound, tokens: { renew: (request) => store.renewOAuthToken(c, request) } };
    const entry: Live = { version: c.updatedAt, outbound, input, definition: def };
    live.set(c.id, entry);
    return entry;
  };

  const runtime: ConnectionRuntime = {
    store,
    connectionFor(tenant, system) {
      const key = `${tenant}|${system}`;
      const hit = chosen.get(key);
      if (hit && Date.now() - hit.at < cacheMs) return hit.value;
      const value = store.forTenant(tenant).enabledFor(system);
      chosen.set(key, { at: Date.now(), value });
      value.catch(() => chosen.delete(key));
      return value;
    },
    async billingRemote(c) {
      const l = await liveFor(c);
      if (!l?.definition.billing) return null;
      l.billing ??= l.definition.billing(l.input);
      return l.billing;
    },
    async billingWebhooks(c) {
      const l = await liveFor(c);
      if (!l?.definition.billingWebhooks) return null;
      l.webhooks ??= l.definition.billingWebhooks(l.input);
      return l.webhooks;
    },
    async crmRemote(c) {
      const l = await liveFor(c);
      if (!l?.definition.crm) return null;
      l.crm ??= l.definition.crm(l.input);
      return l.crm;
    },
    async erpRemote(c) {
      const l = await liveFor(c);
      if (!l?.definition.erp) return null;
      l.erp ??= l.definition.erp(l.input);
      return l.erp;
    },
    async test(c) {
      try {
        const remote = (await runtime.billingRemote(c)) ?? (await runtime.crmRemote(c)) ?? (await runtime.erpRemote(c));
        if (!remote) return { ok: true, accountId: null, errorCode: null, message: 'the reference store needs no credentials' };
        const { accountId } = await remote.checkAccess();
        return { ok: true, accountId, errorCode: null, message: null };
      } catch (err) {
        if (err instanceof TransientError || err instanceof PermanentError) return { ok: false, accountId: null, errorCode: err.code, message: err.message };
        throw err;
      }
    },
    forget(c) {
      live.delete(c.id);
      for (const key of [...chosen.keys()]) if (key.startsWith(`${c.tenant}|`)) chosen.delete(key);
    },
    circuit: (id) => health.get(id)?.circuit() ?? null,
  };
  return runtime;
}
