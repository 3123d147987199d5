import { createHash } from 'node:crypto';
import type { Db } from '../../../../lib/db/db';
import type { SyncJobModel } from '../../ledger/models';
import { AuthError, CompensatedError, PermanentError, TransientError, failureMessage } from '../errors';
import { guarded, scoped } from '../../../../lib/scoped-message';
import { ensureErpCustomer } from '../customers';
import type { Systems, SystemsFor } from '../systems';

export interface QuoteToCashPayload {
  opportunityId: string;
  accountId: string;
  planCode: string;
  amountMinor: string;
  currency: string;
}

/** Ids derived from the job: every downstream write carries its own idempotency key, so a retry never posts twice. */
function stepId(prefix: string, job: SyncJobModel, step: string): string {
  return `${prefix}_${createHash('sha256').update(`${job.tenant}|${job.id}|${step}`).digest('hex').slice(0, 32)}`;
}

/**
 * Quote-to-cash for an opportunity closed as won: credit check in the ERP, subscription in billing, invoice in the
 * ERP (posted, linked to the subscription). Transient failures retry the whole flow (every step is idempotent);
 * a permanent failure, or the last allowed attempt failing, undoes the steps done (cancel the subscription) and the
 * job ends COMPENSATED with the reason.
 */
export function quoteToCashFlow(db: Db, systems: SystemsFor) {
  return async (job: SyncJobModel): Promise<string> => {
    const p = job.payload as unknown as QuoteToCashPayload;
    const sys = systems(job.tenant, job.correlationId);
    const done: string[] = [];
    let subscriptionId: string | null = null;
    try {
      // The API enqueued this job before telling the CRM; make sure the deal shows as won (idempotent).
      const [opp] = await sys.crm.opportunitiesByIds([p.opportunityId]);
      if (opp && opp.stage !== 'CLOSED_WON') await sys.crm.setOpportunityStage(p.opportunityId, 'CLOSED_WON');
      await creditCheck(db, sys, job, p);
      done.push('credit check passed');
      subscriptionId = await subscribe(sys, job, p);
      done.push(`subscription ${subscriptionId} active`);
      const invoiceId = await invoice(sys, job, p, subscriptionId);
      done.push(`invoice ${invoiceId} posted`);
      return done.join('\n');
    } catch (err) {
      // Refused credentials are the connection's problem, not the order's: dead-letter (AUTH_ERROR) without undoing,
      // so a replay after the credentials are rotated completes the same order.
      if (err instanceof AuthError) throw err;
      // Anything but a permanent failure is retried while attempts remain; the steps done so far are kept.
      if (!(err instanceof PermanentError) && job.attempts < job.maxAttempts) throw err;
      const reason = failureMessage(err);
      if (subscriptionId) {
        // Compensation must itself succeed; if billing is down too the job retries (and compensates) later.
        const [sub] = await sys.billing.subscriptionsByIds([subscriptionId]);
        if (sub && sub.status !== 'CANCELED') await sys.billing.cancelSubscription(subscriptionId, false);
        done.push(`compensated: subscription ${subscriptionId} canceled`);
      }
      const code = err instanceof PermanentError || err instanceof TransientError ? err.code : 'INTERNAL';
      throw new CompensatedError(code, reason, done);
    }
  };
}

async function creditCheck(db: Db, sys: Systems, job: SyncJobModel, p: QuoteToCashPayload): Promise<void> {
  const customer = await ensureErpCustomer(db, sys, job.tenant, p.accountId);
  if (customer.creditStatus && customer.creditStatus !== 'OK') {
    throw new PermanentError('CREDIT_CHECK_FAILED', scoped`Credit status is ${guarded('erp', customer.creditStatus)}`);
  }
  const limit = BigInt(customer.creditLimit?.amountMinor ?? '0');
  const exposure = BigInt(customer.balance?.amountMinor ?? '0') + BigInt(p.amountMinor);
  // A zero limit means no limit was set in the ERP.
  if (limit > 0n && exposure > limit) {
    throw new PermanentError('CREDIT_CHECK_FAILED', scoped`Exposure ${guarded('erp', exposure)} would exceed the credit limit ${guarded('erp', limit)}`);
  }
}

async function subscribe(sys: Systems, job: SyncJobModel, p: QuoteToCashPayload): Promise<string> {
  const [price] = (await sys.billing.activePricesByPlanCodes([p.planCode], p.currency)).filter((x) => x.interval === 'MONTH');
  if (!price) throw new PermanentError('PLAN_NOT_SOLD', `No active monthly ${p.currency} price for plan "${p.planCode}"`);
  const sub = await sys.billing.createSubscription({
    id: stepId('bsub', job, 'subscription'),
    accountId: p.accountId,
    currency: p.currency,
    status: 'ACTIVE',
    periodStart: new Date().toISOString().slice(0, 10),
    trialDays: 0,
    items: [{ planId: price.planId, priceId: price.id, quantity: 1 }],
  });
  return sub.id;
}

async function invoice(sys: Systems, job: SyncJobModel, p: QuoteToCashPayload, subscriptionId: string): Promise<string> {
  const [sub] = await sys.billing.subscriptionsByIds([subscriptionId]);
  if (!sub) throw new TransientError('NOT_VISIBLE_YET', `Subscription "${subscriptionId}" not readable yet`);
  const description = `${p.planCode} subscription ${sub.currentPeriodStart} to ${sub.currentPeriodEnd}`;
  const invoiceId = stepId('inv', job, 'invoice');
  // A remote billing system (Stripe) sends the invoice and collects it; its payment webhooks apply the payments. It
  // bills the subscription's own invoice at the plan's price, so that invoice is raised (or found) first and the ERP
  // invoice bills its total: both sides then carry one amount and payments reconcile. Idempotent by the invoice id.
  const remote = await sys.remoteBilling();
  const vendorInvoice = remote
    ? await remote.raiseInvoice({
        invoiceId, accountId: p.accountId, subscriptionId, currency: p.currency, daysUntilDue: 30,
        lines: [{ description, amount: { amountMinor: p.amountMinor, currency: p.currency } }],
      })
    : null;
  const draft = await sys.erp.createInvoice({
    id: invoiceId,
    accountId: p.accountId,
    currency: p.currency,
    lines: [{ description, quantity: 1, unitPriceMinor: vendorInvoice ? vendorInvoice.total.amountMinor : p.amountMinor }],
    taxRateBps: 0,
    dueInDays: 30,
  });
  if (draft.status === 'DRAFT') await sys.erp.postInvoice(draft.id);
  await sys.billing.linkInvoice(draft.id, subscriptionId, sub.currentPeriodStart, sub.currentPeriodEnd);
  return draft.id;
}
