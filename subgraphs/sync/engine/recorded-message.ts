import type { SystemName } from '../../../lib/outbox';
import type { SubgraphName } from '../../../lib/schema';
import { type ScopedMessage, unclassified } from '../../../lib/scoped-message';
import type { SyncJobModel } from '../ledger/models';
import type { FailureMessage } from './errors';

const SUBGRAPH_OF: Record<SystemName, SubgraphName> = { CRM: 'crm', ERP: 'erp', BILLING: 'billing' };
const SYSTEMS_OF_RECORD: readonly SubgraphName[] = ['crm', 'erp', 'billing'];

/**
 * The message a job records (lastErrorMessage, history, status events, Account.syncStatus.lastError), classified for
 * its readers. Anyone with sync:read reads it, and may lack the scopes of the values a step saw (a credit limit needs
 * finance:read), so each value is stored with the systems it belongs to and shown by the reader's scopes
 * (lib/scoped-message.ts). A message the code that threw classified is kept as it is; one nobody classified (a
 * vendor's own text, an unexpected error) may carry anything from the systems the job touched, so it is guarded as a
 * whole by all of them: its source and target, every system of record for a workflow without one target.
 */
export function recordedMessage(message: FailureMessage, job: Pick<SyncJobModel, 'sourceSystem' | 'targetSystem'>): ScopedMessage {
  if (typeof message !== 'string') return message;
  const systems = job.targetSystem ? [...new Set([SUBGRAPH_OF[job.sourceSystem], SUBGRAPH_OF[job.targetSystem]])] : SYSTEMS_OF_RECORD;
  return unclassified(message, systems);
}
