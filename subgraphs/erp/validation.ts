import { z } from 'zod';
import { currencyCode, moneyInput } from '../../lib/money';
import { MAX_MINOR, invoiceTotals } from './connector/ledger';

const id = z.string().min(1, 'must not be empty');
const INVOICE_STATUSES = ['DRAFT', 'POSTED', 'PAID', 'VOID'] as const;

/** The Date scalar is a plain string on the wire: reject what Postgres would fail on (2026-02-30) here. */
const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be an ISO date (YYYY-MM-DD)')
  .refine((s) => {
    const day = new Date(`${s}T00:00:00Z`);
    return !Number.isNaN(day.getTime()) && day.toISOString().startsWith(s);
  }, 'must be a calendar date');

const invoiceLine = z.object({
  description: z.string().trim().min(1, 'must not be empty').max(500, 'must be at most 500 characters'),
  quantity: z.number().int('must be a whole number').min(1, 'must be at least 1').max(1_000_000, 'must be at most 1000000'),
  unitPrice: moneyInput,
});

export const createInvoiceInput = z
  .object({
    accountId: id,
    currency: currencyCode,
    lines: z.array(invoiceLine).min(1, 'must have at least one line').max(100, 'must have at most 100 lines'),
    taxRateBps: z.number().int('must be a whole number').min(0, 'must not be negative').max(10_000, 'must be at most 10000 (100%)').nullish(),
    dueInDays: z.number().int('must be a whole number').min(0, 'must not be negative').max(365, 'must be at most 365').nullish(),
  })
  .superRefine((input, ctx) => {
    input.lines.forEach((line, i) => {
      if (line.unitPrice.currency !== input.currency) {
        ctx.addIssue({ code: 'custom', path: ['lines', i, 'unitPrice', 'currency'], message: `must be ${input.currency}, the invoice currency` });
      }
    });
  })
  // zod still runs refinements after non-fatal issues; amounts are only safe to add up once everything parsed.
  .refine(
    (input) => {
      const lines = input.lines.map((l) => ({ description: l.description, quantity: l.quantity, unitPriceMinor: l.unitPrice.amountMinor }));
      return invoiceTotals(lines, input.taxRateBps ?? 0).total <= MAX_MINOR;
    },
    { path: ['lines'], message: 'add up to more than the ledger can hold', when: (payload) => payload.issues.length === 0 },
  );

export const voidReason = z.string().trim().min(1, 'must not be empty').max(500, 'must be at most 500 characters');

export const recordPaymentInput = z.object({
  accountId: id,
  amount: moneyInput.refine((m) => /[1-9]/.test(m.amountMinor), { message: 'must be more than zero', path: ['amountMinor'] }),
  method: z.string().trim().min(1, 'must not be empty').max(50, 'must be at most 50 characters'),
  reference: z.string().trim().max(200, 'must be at most 200 characters').nullish(),
  invoiceIds: z
    .array(id)
    .min(1, 'must name at least one invoice, or be left out to pay the oldest')
    .max(100, 'must name at most 100 invoices')
    .refine((ids) => new Set(ids).size === ids.length, 'must not name an invoice twice')
    .nullish(),
});

export const setCreditLimitInput = z.object({
  accountId: id,
  creditLimit: moneyInput,
  creditStatus: z.enum(['OK', 'ON_HOLD', 'BLOCKED']).nullish(),
});

export const invoiceFilter = z.object({
  accountId: id.nullish(),
  statuses: z.array(z.enum(INVOICE_STATUSES)).nullish(),
  dueBefore: isoDate.nullish(),
});
