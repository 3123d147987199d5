/** The account 360 of the README: one query over CRM, ERP, billing and sync (test/account360.test.ts, bench/cache.ts). */
export const ACCOUNT_360 = /* GraphQL */ `
  query Account360($first: Int!) {
    accounts(first: $first) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id name lifecycleStage externalIds { system remoteId }
        contacts(first: 5) { nodes { id email } }
        opportunities(first: 5, filter: { open: true }) { nodes { id stage amount { amountMinor currency } } }
        creditLimit { amountMinor currency }
        creditStatus
        balance { amountMinor currency }
        invoices(first: 5) { nodes { id number status total { amountMinor currency } subscription { id status } } }
        payments(first: 5) { nodes { id amount { amountMinor currency } } }
        subscriptions { id status mrr { amountMinor currency } items { quantity plan { code } } }
        syncStatus { system state lastSyncedAt }
      }
    }
  }
`;
