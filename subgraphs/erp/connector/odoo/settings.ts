import { z } from 'zod';

/** An Odoo connection's settings (not secret). */
export const odooSettings = z.object({
  /** The server, e.g. https://acme.odoo.com; the fake's URL in tests. */
  url: z.string().url(),
  db: z.string().min(1),
  /** The API user's login (not secret; its API key is the credential). */
  login: z.string().min(1),
  /** Re-read window behind the cursor: Odoo stamps `write_date` at transaction start, so a long transaction can
   * commit records older than ones already read. */
  overlapMs: z.number().int().min(0).default(5 * 60_000),
  /** The bank/cash journal payments are registered in; null: the wizard's default for the company. */
  paymentJournalId: z.number().int().positive().nullable().default(null),
});
export type OdooSettings = z.infer<typeof odooSettings>;

/** The API user's API key (Preferences > Account Security > New API Key), used in place of its password. */
export const odooCredentials = z.object({ apiKey: z.string().min(1) });
export type OdooCredentials = z.infer<typeof odooCredentials>;
