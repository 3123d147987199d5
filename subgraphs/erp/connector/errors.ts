/**
 * Rules the connector enforces inside its transactions. They are plain errors (not GraphQL errors) so an adapter
 * for another ERP can raise the same ones; the resolvers map them to NOT_FOUND and ILLEGAL_STATE_TRANSITION.
 */

/** A write named a record that does not exist for this tenant. */
export class MissingRecord extends Error {
  constructor(readonly type: 'Account' | 'Invoice', readonly id: string) {
    super(`${type} "${id}" does not exist`);
  }
}

/** A domain rule said no. `domainCode` is stable and namespaced, e.g. `ERP.INVOICE_NOT_DRAFT`. */
export class RuleViolation extends Error {
  constructor(readonly domainCode: string, message: string) {
    super(message);
  }
}
