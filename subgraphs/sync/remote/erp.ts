import type { JsonObject, RemoteRecord } from '../../../lib/connectors/remote';
import type { ErpConnector } from '../../erp/connector/port';
import type { ErpRemote } from '../../erp/connector/remote-port';
import type { InvoiceStatus } from '../../erp/connector/models';
import type { RemoteInvoiceFields } from '../../erp/connector/remote-port';
import { PermanentError, TransientError } from '../engine/errors';
import { MissingRecord } from '../../erp/connector/errors';
import { assertPostable, assertVoidable } from '../../erp/connector/rules';
import type { RemoteEntity, RemoteLinks } from './links';

/**
 * The ERP port of a tenant whose ERP is remote (Odoo), as the sync engine uses it inside jobs: reads come from the
 * local mirror (the reference tables), writes go to the vendor first and then to the mirror, and the vendor ids are
 * linked (`sync.remote_links`, with the vendor's record as `remoteData`). Every vendor write is keyed by our canonical
 * id, which Odoo keeps in the record's `ref`: a job that crashed after the vendor's answer finds the record it made
 * instead of making a second one. Changes made in Odoo itself come back by polling (`../polling.ts`).
 */
export function remoteErp(mirror: ErpConnector, remote: ErpRemote, links: RemoteLinks): ErpConnector {
  const { link, ensureCustomer, remoteInvoiceId } = vendorSide(mirror, remote, links);
  const mirrorInvoice = async (id: string) => {
    const [found] = await mirror.invoicesByIds([id]);
    if (!found) throw new MissingRecord('Invoice', id);
    return found;
  };
  return {
    ...mirror,
    async upsertCustomer(input) {
      const r = await links.exclusive('Customer', input.id, async () => {
        const upserted = await remote.upsertCustomer({ canonicalId: input.id, name: input.name });
        await link('Customer', input.id, upserted);
        return upserted;
      });
      await mirror.upsertCustomer(input);
      return { remoteId: r.remoteId, updatedAt: r.remoteUpdatedAt };
    },
    async createInvoice(input) {
      if (!input.id) throw new PermanentError('INVOICE_ID_REQUIRED', 'A remote invoice needs our id first (the vendor keeps it as its reference)');
      if (!(await links.remoteId('Invoice', input.id))) {
        const customerRemoteId = await ensureCustomer(input.accountId);
        const r = await remote.createInvoice({ canonicalId: input.id, customerRemoteId, currency: input.currency, lines: input.lines });
        await link('Invoice', input.id, r);
      }
      return mirror.createInvoice(input);
    },
    // The port's rules are checked on the mirror before the vendor is asked, so a refusal is the port's own
    // (MissingRecord, RuleViolation) and not the vendor's error, and the vendor is not asked for what we refuse.
    async postInvoice(id) {
      assertPostable(await mirrorInvoice(id));
      await link('Invoice', id, await remote.postInvoice(await remoteInvoiceId(id)));
      return mirror.postInvoice(id);
    },
    async voidInvoice(id, reason) {
      assertVoidable(await mirrorInvoice(id));
      await link('Invoice', id, await remote.cancelInvoice(await remoteInvoiceId(id)));
      return mirror.voidInvoice(id, reason);
    },
    async recordPayment(input) {
      if (!input.id) throw new PermanentError('PAYMENT_ID_REQUIRED', 'A remote payment needs our id first (the vendor keeps it as its memo)');
      // The mirror first: a poll that sees the vendor's invoice paid in between then finds nothing left to apply
      // (vendor first, it would apply the same money a second time under another id).
      const paid = await mirror.recordPayment(input);
      if (!(await links.remoteId('Payment', input.id))) {
        const invoiceRemoteIds: string[] = [];
        for (const invoiceId of input.invoiceIds ?? []) invoiceRemoteIds.push(await remoteInvoiceId(invoiceId));
        const r = await remote.recordPayment({
          canonicalId: input.id, customerRemoteId: await ensureCustomer(input.accountId), amount: input.amount,
          date: new Date().toISOString().slice(0, 10), invoiceRemoteIds,
        });
        await link('Payment', input.id, r);
      }
      return paid;
    },
    async setCreditLimit(accountId, creditLimit, creditStatus) {
      if ((await mirror.accountsByIds([accountId])).length === 0) throw new MissingRecord('Account', accountId);
      await link('Customer', accountId, await remote.setCreditLimit(await ensureCustomer(accountId), creditLimit));
      return mirror.setCreditLimit(accountId, creditLimit, creditStatus);
    },
  };
}

/** What both directions share: linking vendor records, and the Odoo partner of an account made on first need. */
function vendorSide(mirror: ErpConnector, remote: ErpRemote, links: RemoteLinks) {
  const link = <F>(type: RemoteEntity, canonicalId: string, r: RemoteRecord<F>): Promise<void> =>
    links.record(type, canonicalId, r.remoteId, r.remoteUpdatedAt, r.remoteData as JsonObject);

  /**
   * The Odoo partner of an account, created from the mirror's customer (or the account id) the first time, by one
   * writer at a time (every path that upserts a partner takes the same lease).
   */
  const ensureCustomer = async (accountId: string): Promise<string> => {
    const known = await links.remoteId('Customer', accountId);
    if (known) return known;
    return links.exclusive('Customer', accountId, async () => {
      const linked = await links.remoteId('Customer', accountId);
      if (linked) return linked;
      const [local] = await mirror.accountsByIds([accountId]);
      const created = await remote.upsertCustomer({ canonicalId: accountId, name: local?.name ?? accountId });
      await link('Customer', accountId, created);
      return created.remoteId;
    });
  };
  const remoteInvoiceId = async (invoiceId: string): Promise<string> => {
    const id = await links.remoteId('Invoice', invoiceId);
    if (!id) throw new PermanentError('REMOTE_INVOICE_UNKNOWN', `Invoice "${invoiceId}" has not been created in ${remote.vendor}`);
    return id;
  };
  return { link, ensureCustomer, remoteInvoiceId };
}

/** Pushes of records written through the ERP API (REMOTE_PUSH jobs) to a remote ERP; the mirror already has them. */
export interface RemoteErpPush {
  /** `mayCreate`: this push may create the vendor's invoice (only the job of its create may). */
  push(type: string, id: string, mayCreate: boolean): Promise<string>;
}

/**
 * Each push makes the vendor's record match the mirror's current state, reading the vendor first: a record it
 * already has (our id is its `ref`) is not made again, a state it is already in is not asked for again, a credit
 * limit it already holds is not written again. So a job retried after a lost answer, or run again after a worker died
 * between the vendor's answer and our commit, changes the vendor's record once; and pushes of one record may run in
 * any order (each pushes the latest state).
 */
export function remoteErpPush(mirror: ErpConnector, remote: ErpRemote, links: RemoteLinks): RemoteErpPush {
  const { link, ensureCustomer } = vendorSide(mirror, remote, links);

  const pushAccount = async (accountId: string): Promise<string> => {
    const [ours] = await mirror.accountsByIds([accountId]);
    if (!ours?.creditLimit) throw new PermanentError('SOURCE_NOT_FOUND', `ERP customer "${accountId}" does not exist`);
    const partnerId = await ensureCustomer(accountId);
    const [theirs] = await remote.get('customer', [partnerId]);
    const limit = theirs?.fields.creditLimit ?? { amountMinor: '0', currency: ours.creditLimit.currency };
    if (theirs && limit.amountMinor === ours.creditLimit.amountMinor && limit.currency === ours.creditLimit.currency) {
      await link('Customer', accountId, theirs);
      return `${remote.vendor} partner ${partnerId} already has credit limit ${ours.creditLimit.amountMinor} ${ours.creditLimit.currency}`;
    }
    try {
      await link('Customer', accountId, await remote.setCreditLimit(partnerId, ours.creditLimit));
    } catch (err) {
      // Odoo keeps one currency for credit limits (the company's): a limit in another can never be pushed, and is no
      // failure to retry or replay. The account keeps ours; reconciliation does not compare them.
      if (err instanceof PermanentError && err.code === 'CURRENCY_MISMATCH') return `not pushed: ${err.message}`;
      throw err;
    }
    return `${remote.vendor} partner ${partnerId}: credit limit ${ours.creditLimit.amountMinor} ${ours.creditLimit.currency}`;
  };

  const pushInvoice = async (invoiceId: string, mayCreate: boolean): Promise<string> => {
    const [ours] = await mirror.invoicesByIds([invoiceId]);
    if (!ours) throw new PermanentError('SOURCE_NOT_FOUND', `ERP invoice "${invoiceId}" does not exist`);
    let remoteId = await links.remoteId('Invoice', invoiceId);
    if (!remoteId && !mayCreate) throw new TransientError('REMOTE_NOT_CREATED', `invoice "${invoiceId}" is not at ${remote.vendor} yet: its create job makes it`);
    if (!remoteId) {
      const created = await remote.createInvoice({
        canonicalId: ours.id, customerRemoteId: await ensureCustomer(ours.accountId), currency: ours.currency,
        lines: ours.lines.map((l) => ({ description: l.description, quantity: l.quantity, unitPriceMinor: l.unitPrice.amountMinor })),
      });
      await link('Invoice', invoiceId, created);
      remoteId = created.remoteId;
    }
    const [theirs] = await remote.get('invoice', [remoteId]);
    if (!theirs) throw new PermanentError('REMOTE_INVOICE_GONE', `${remote.vendor} invoice ${remoteId} no longer exists`);
    let now = theirs;
    const id = remoteId;
    // Two pushes of one invoice may run at once: a refusal because the other already changed the state is no failure.
    const toState = async (change: () => Promise<RemoteRecord<RemoteInvoiceFields>>, reached: (s: InvoiceStatus) => boolean) => {
      try {
        return await change();
      } catch (err) {
        const [again] = await remote.get('invoice', [id]);
        if (err instanceof PermanentError && again && reached(again.fields.status)) return again;
        throw err;
      }
    };
    if ((ours.status === 'POSTED' || ours.status === 'PAID') && theirs.fields.status === 'DRAFT') now = await toState(() => remote.postInvoice(id), (s) => s !== 'DRAFT');
    if (ours.status === 'VOID' && theirs.fields.status !== 'VOID') now = await toState(() => remote.cancelInvoice(id), (s) => s === 'VOID');
    await link('Invoice', invoiceId, now);
    return `${remote.vendor} invoice ${remoteId} is ${now.fields.status} (ours ${ours.status})`;
  };

  const pushPayment = async (paymentId: string): Promise<string> => {
    const [ours] = await mirror.paymentsByIds([paymentId]);
    if (!ours) throw new PermanentError('SOURCE_NOT_FOUND', `ERP payment "${paymentId}" does not exist`);
    const known = await links.remoteId('Payment', paymentId);
    if (known) return `${remote.vendor} payment ${known} already recorded`;
    const applied = await mirror.applicationsByPayments([paymentId]);
    // The invoices it settles must be at the vendor, posted, before a payment can be reconciled with them.
    for (const a of applied) await pushInvoice(a.invoiceId, false);
    const invoiceRemoteIds: string[] = [];
    for (const a of applied) invoiceRemoteIds.push((await links.remoteId('Invoice', a.invoiceId)) ?? '');
    const r = await remote.recordPayment({
      canonicalId: paymentId, customerRemoteId: await ensureCustomer(ours.accountId), amount: ours.amount,
      date: ours.receivedAt.slice(0, 10), invoiceRemoteIds,
    });
    await link('Payment', paymentId, r);
    return `${remote.vendor} payment ${r.remoteId} recorded for ${invoiceRemoteIds.length} invoice(s)`;
  };

  return {
    push(type, id, mayCreate) {
      switch (type) {
        case 'Account': return pushAccount(id);
        case 'Invoice': return pushInvoice(id, mayCreate);
        case 'Payment': return pushPayment(id);
        default: throw new PermanentError('UNSUPPORTED_PUSH', `No ERP push for ${type}`);
      }
    },
  };
}
