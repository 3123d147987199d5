import type { Db } from '../../../lib/db/db';
import type { KeyRing } from '../../../lib/connectors/secret-box';
import type { Logger } from '../../../lib/logger';
import { type DeliveryWorker, startDeliveryWorker } from './delivery-worker';
import type { PartnerWebhookSettings } from './settings';
import { type PartnerWebhookAdmin, partnerWebhookAdmin } from './store';

/** What a process needs for partner webhooks: the settings, the admin API per tenant, and the delivery loop. */
export interface PartnerWebhookRuntime {
  settings: PartnerWebhookSettings;
  /** The admin store bound to one tenant. */
  forTenant(tenant: string): PartnerWebhookAdmin;
  /** Starts this process's delivery loop (none when `concurrency` is 0). */
  startDelivery(logger: Logger): DeliveryWorker;
}

export function partnerWebhookRuntime(db: Db, ring: KeyRing, settings: PartnerWebhookSettings): PartnerWebhookRuntime {
  return {
    settings,
    forTenant: (tenant) => partnerWebhookAdmin(db, ring, tenant),
    startDelivery: (logger) => startDeliveryWorker({ db, ring, settings, logger }),
  };
}
