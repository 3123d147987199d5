/**
 * The vocabulary shared by the response cache (which tags each cached answer) and every writer (gateway mutations,
 * the sync engine's relay), so an eviction names exactly the answers a write can have changed.
 *
 * Tags of an answer (gateway/cache-entities.ts computes them from the answer and its operation):
 * - `e:<Type>:<id>`  it holds that entity (its `id` was selected)
 * - `w:<Type>`       it holds an entity of that type whose id was not selected (any write of the type evicts it)
 * - `t:<Type>`       it holds any entity of that type (evicted by a write whose entity is not known by id)
 * - `l:<Type>`       it holds a list of that type, or a lookup of it that found nothing (evicted when one is created)
 * - `f:<Type>.<fld>` it selected a field derived from other entities (DERIVED_FIELDS), e.g. an account's balance
 * - `*`              every answer (whole-tenant eviction)
 *
 * Bound, stated: an update that moves an entity INTO a filtered list it was not in (say `opportunities(filter:
 * {stages: [WON]})` after a stage move) does not evict that list until its max-age; leaving a list does (the entity
 * is in it), and so does every create.
 */
export interface WrittenEntity {
  type: string;
  /** Our canonical id; absent when the writer does not know which entity (type-wide eviction, unless `created`). */
  id?: string;
  /** The write may have added an entity to lists of its type (a new entity is in no cached answer yet). */
  created?: boolean;
}

/** A write the tags cannot narrow: evicts every answer of the tenant. */
export const WHOLE_TENANT = '*';

/**
 * Fields whose value follows writes of another type without that entity being in the answer: an invoice posted
 * changes its account's balance, whether or not the answer holds the invoice.
 */
export const DERIVED_FIELDS: Readonly<Record<string, readonly string[]>> = {
  Invoice: ['Account.balance', 'Account.invoices', 'Invoice.amountDue', 'Invoice.payments'],
  Payment: ['Account.balance', 'Account.payments', 'Invoice.amountDue', 'Invoice.status', 'Invoice.payments', 'Invoice.billingStatus'],
  BillingSubscription: ['Account.subscriptions'],
};

export const DERIVED_FIELD_SET: ReadonlySet<string> = new Set(Object.values(DERIVED_FIELDS).flat());

export const entityTag = (type: string, id: string) => `e:${type}:${id}`;
export const idlessTag = (type: string) => `w:${type}`;
export const typeTag = (type: string) => `t:${type}`;
export const listTag = (type: string) => `l:${type}`;
export const fieldTag = (typeAndField: string) => `f:${typeAndField}`;

/** The tags whose answers a set of writes may have changed. */
export function evictionTags(written: readonly (WrittenEntity | typeof WHOLE_TENANT)[]): string[] {
  const tags = new Set<string>();
  for (const w of written) {
    if (w === WHOLE_TENANT) return [WHOLE_TENANT];
    if (w.id !== undefined) {
      tags.add(entityTag(w.type, w.id));
      tags.add(idlessTag(w.type));
    } else if (!w.created) {
      tags.add(typeTag(w.type));
    }
    if (w.created) tags.add(listTag(w.type));
    for (const f of DERIVED_FIELDS[w.type] ?? []) tags.add(fieldTag(f));
  }
  return [...tags];
}
