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
import type { FaultInjector } from './faults';
import { SpanKind, traced } from '../../../lib/telemetry/tracing';

/** The three systems of record as the sync engine sees them: their connector ports, bound to one tenant. */
export interface Systems {
  crm: CrmConnector;
  erp: ErpConnector;
  billing: BillingConnector;
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

/** The built-in reference stores (the only adapters so far), each behind the fault injector. */
export function referenceSystems(db: Db, faults: FaultInjector): SystemsFor {
  return (tenant, correlationId = 'sync-engine') => ({
    crm: guarded('CRM', crmReferenceStore(db, tenant), faults),
    erp: guarded('ERP', erpReferenceStore(db, tenant, erpWriteHooks(tenant, correlationId)), faults),
    billing: guarded('BILLING', billingReferenceStore(db, tenant, billingWriteHooks(tenant, correlationId)), faults),
  });
}

/** Currency for a new downstream customer, from the billing country (systems keep theirs once created). */
export function currencyForCountry(country: string | null | undefined): string {
  const euro = ['DE', 'FR', 'ES', 'IT', 'NL', 'BE', 'AT', 'IE', 'PT', 'FI'];
  if (country && euro.includes(country)) return 'EUR';
  if (country === 'GB') return 'GBP';
  return 'USD';
}
