/**
 * Billing's typed domain errors. Plain errors (not GraphQL errors) so every adapter behind the port (the reference
 * store, mirror + vendor) raises the same ones; the resolvers map them to ILLEGAL_STATE_TRANSITION at the edge.
 * Records that do not exist are reported as `null` / absent by the port's methods, not thrown.
 */

/** A billing rule said no. `domainCode` is stable and namespaced, e.g. `BILLING.OVERPAYMENT`. */
export class BillingRuleViolation extends Error {
  constructor(readonly domainCode: string, message: string) {
    super(message);
  }
}
