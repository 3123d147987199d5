import type { Db } from '../../../lib/db/db';
import type { SystemName } from '../../../lib/outbox';
import type { BillingConnector } from '../../billing/connector/port';
import { billingReferenceStore } from '../../billing/connector/reference-store';
import type { CrmConnector } from '../../crm/connector/port';
import { crmReferenceStore } from '../../crm/connector/reference-store';
import type { ErpConnector } from '../../erp/connector/port';
import { erpReferenceStore } from '../../erp/connector/reference-store';
import { erpWriteHooks } from '../../erp/hooks';
import { billingWriteHooks } from '../../billing/hooks';
import type { ConnectionRuntime } from '../connections/runtime';
import type { ConnectionModel } from '../connections/models';
import { type RemoteBillingPush, remoteBilling } from '../remote/billing';
import { remoteLinks } from '../remote/links';
import { type RemoteCrmPush, remoteCrm } from '../remote/crm';
import { type RemoteErpPush, remoteErp, remoteErpPush } from '../remote/erp';
import type { FaultInjector } from './faults';
import { SpanKind, traced } from '../../../lib/telemetry/tracing';
import { recordLink } from './links';

/** The three systems of record as the sync engine sees them: their connector ports, bound to one tenant. */
export interface Systems {
  crm: CrmConnector;
  erp: ErpConnector;
  billing: BillingConnector;
  /** Writes only a remote billing system takes (its invoices); null when the tenant's billing is the reference store. */
  remoteBilling(): Promise<RemoteBillingPush | null>;
  /** Pushes CRM records changed through our API to a remote CRM (HubSpot); null when the CRM is the reference store. */
  remoteCrm(): Promise<RemoteCrmPush | null>;
  /** Pushes ERP records written through the ERP API to a remote ERP (Odoo); null when the ERP is the reference store. */
  remoteErp(): Promise<RemoteErpPush | null>;
}

/** Connectors for a tenant; writes made for a job carry its correlation id into the events they record. */
export type SystemsFor = (tenant: string, correlationId?: string) => Systems;

/** Wraps every method of a connector so the fault injector can fail calls the way that vendor would. */
function guarded<T extends object>(system: SystemName, connector: T, faults: FaultInjector): T {
  return new Proxy(connector, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      const method = value as (...a: unknown[]) => unknown;
      // A CLIENT span per call into a system: the downstream reads and writes of a job's trace.
      return (...args: unknown[]) =>
        traced(`system ${system}.${prop}`, { 'sor.system': system, 'sor.system.operation': prop }, () => faults.guard(system, prop, () => Promise.resolve(method.apply(target, args))), {
          kind: SpanKind.CLIENT,
        });
    },
  });
}

/**
 * A port whose adapter is chosen when first called (the tenant's connection is read from the database, cached by the
 * connection runtime), so building a tenant's systems stays synchronous. Every port method is async, which is what
 * makes this transparent.
 */
function deferred<T extends object>(resolve: () => Promise<T>): T {
  return new Proxy({} as T, {
    get(_target, prop) {
      if (typeof prop !== 'string' || prop === 'then') return undefined;
      return async (...args: unknown[]) => {
        const port = await resolve();
        const method = Reflect.get(port, prop) as (...a: unknown[]) => unknown;
        return method.apply(port, args);
      };
    },
  });
}

/**
 * The registry of a tenant's ports, built from its connections: a system without an enabled connection (or on the
 * `reference` adapter) is the built-in reference store; a remote billing (Stripe) or ERP (Odoo) system is the mirror for
 * reads with writes pushed to the vendor inside the job; a remote CRM (HubSpot) gets our API's account changes through
 * `remoteCrm`. Two tenants on different adapters share one deployment.
 */
export function connectedSystems(db: Db, faults: FaultInjector, connections?: ConnectionRuntime): SystemsFor {
  return (tenant, correlationId = 'sync-engine') => {
    const mirror = billingReferenceStore(db, tenant, billingWriteHooks(tenant, correlationId));
    const crm = guarded('CRM', crmReferenceStore(db, tenant), faults);
    const remote = async () => {
      const connection = connections ? await connections.connectionFor(tenant, 'BILLING') : null;
      const vendor = connection && connections ? await connections.billingRemote(connection) : null;
      if (!connection || !vendor) return null;
      return remoteBilling(mirror, vendor, remoteLinks(db, tenant, connection.id), (accountId, ref) => recordLink(db, crm, tenant, accountId, 'BILLING', ref));
    };
    const erpMirror = erpReferenceStore(db, tenant, erpWriteHooks(tenant, correlationId));
    const vendorOf = async <T>(system: 'CRM' | 'ERP', build: (c: ConnectionModel, r: ConnectionRuntime) => Promise<T | null>) => {
      const connection = connections ? await connections.connectionFor(tenant, system) : null;
      const vendor = connection && connections ? await build(connection, connections) : null;
      return connection && vendor ? { connection, vendor } : null;
    };
    const erp = async () => {
      const r = await vendorOf('ERP', (c, rt) => rt.erpRemote(c));
      return r ? remoteErp(erpMirror, r.vendor, remoteLinks(db, tenant, r.connection.id)) : erpMirror;
    };
    return {
      crm,
      erp: guarded('ERP', deferred(erp), faults),
      remoteCrm: async () => {
        const r = await vendorOf('CRM', (c, rt) => rt.crmRemote(c));
        return r ? remoteCrm(r.vendor, remoteLinks(db, tenant, r.connection.id)) : null;
      },
      remoteErp: async () => {
        const r = await vendorOf('ERP', (c, rt) => rt.erpRemote(c));
        return r ? remoteErpPush(erpMirror, r.vendor, remoteLinks(db, tenant, r.connection.id)) : null;
      },
      billing: guarded('BILLING', deferred(async () => (await remote())?.billing ?? mirror), faults),
      remoteBilling: async () => (await remote())?.push ?? null,
    };
  };
}

/** Every tenant on the reference stores (no connections consulted): benches and tools that need no vendor. */
export const referenceSystems = (db: Db, faults: FaultInjector): SystemsFor => connectedSystems(db, faults);

/** Currency for a new downstream customer, from the billing country (systems keep theirs once created). */
export function currencyForCountry(country: string | null | undefined): string {
  const euro = ['DE', 'FR', 'ES', 'IT', 'NL', 'BE', 'AT', 'IE', 'PT', 'FI'];
  if (country && euro.includes(country)) return 'EUR';
  if (country === 'GB') return 'GBP';
  return 'USD';
}
