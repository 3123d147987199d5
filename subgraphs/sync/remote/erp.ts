import type { JsonObject, RemoteRecord } from '../../../lib/connectors/remote';
import type { ErpConnector } from '../../erp/connector/port';
import type { ErpRemote } from '../../erp/connector/remote-port';
import { PermanentError } from '../engine/errors';
import type { RemoteEntity, RemoteLinks } from './links';

/**
 * The ERP port of a tenant whose ERP is remote (Odoo), as the sync engine uses it inside jobs: reads come from the
 * local mirror (the reference tables), writes go to the vendor first and then to the mirror, and the vendor ids are
 * linked (`sync.remote_links`, with the vendor's record as `remoteData`). Every vendor write is keyed by our canonical
 * id, which Odoo keeps in the record's `ref`: a job that crashed after the vendor's answer finds the record it made
 * instead of making a second one. Changes made in Odoo itself come back by polling (`../polling.ts`).
 */
export function remoteErp(mirror: ErpConnector, remote: ErpRemote, links: RemoteLinks): ErpConnector {
  const link = <F>(type: RemoteEntity, canonicalId: string, r: RemoteRecord<F>): Promise<void> =>
    links.record(type, canonicalId, r.remoteId, r.remoteUpdatedAt, r.remoteData as JsonObject);

  /** The Odoo partner of an account, created from the mirror's customer (or the account id) the first time. */
  const ensureCustomer = async (accountId: string): Promise<string> => {
    const known = await links.remoteId('Customer', accountId);
    if (known) return known;
    const [local] = await mirror.accountsByIds([accountId]);
    const created = await remote.upsertCustomer({ canonicalId: accountId, name: local?.name ?? accountId });
    await link('Customer', accountId, created);
    return created.remoteId;
  };
  const remoteInvoiceId = async (invoiceId: string): Promise<string> => {
    const id = await links.remoteId('Invoice', invoiceId);
    if (!id) throw new PermanentError('REMOTE_INVOICE_UNKNOWN', `Invoice "${invoiceId}" has not been created in ${remote.vendor}`);
    return id;
  };

  return {
    ...mirror,
    async upsertCustomer(input) {
      const r = await remote.upsertCustomer({ canonicalId: input.id, name: input.name });
      await link('Customer', input.id, r);
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
    async postInvoice(id) {
      await link('Invoice', id, await remote.postInvoice(await remoteInvoiceId(id)));
      return mirror.postInvoice(id);
    },
    async voidInvoice(id, reason) {
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
      await link('Customer', accountId, await remote.setCreditLimit(await ensureCustomer(accountId), creditLimit));
      return mirror.setCreditLimit(accountId, creditLimit, creditStatus);
    },
  };
}
