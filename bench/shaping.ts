/**
 * What the executor's post-processing costs per answer, @apollo/gateway's own vs ours (issue 17 item 2): building the
 * operation in federation-internals' model (`operationFromDocument`, per request in Apollo, once per operation with
 * gateway/operation-memo.ts) and shaping the merged subgraph data into the answer (`computeResponse`, Apollo's vs the
 * compiled one of gateway/response-shaping.ts), on the API schema of our supergraph and answers of the size the
 * gateway benchmark produces. One process, the two variants alternated in blocks, so a busy machine slows both alike;
 * CPU time of this process (process.cpuUsage) per answer.
 *
 *   npx tsx bench/shaping.ts [--rounds 10] [--block 200] [--accounts 20]
 */
import { type Operation, Supergraph, operationFromDocument } from '@apollo/federation-internals';
import { Kind, type DefinitionNode, parse } from 'graphql';
import { parseCli } from '../lib/cli';
import { readSupergraph } from '../lib/schema';
import { memoizedOperationFromDocument } from '../gateway/operation-memo';
import { apolloComputeResponse, computeResponse } from '../gateway/response-shaping';
import { MIX_OPERATIONS } from './gateways-mix';
import { intOption, machineDescription, table } from './support';

const { values } = parseCli({
  usage: 'npx tsx bench/shaping.ts [options]',
  summary: "Per-answer CPU of the gateway's post-processing (operation model + result shaping), @apollo/gateway's vs ours, alternated in one process.",
  options: {
    rounds: { type: 'string', default: '10', description: 'alternations of the two variants', placeholder: 'n' },
    block: { type: 'string', default: '200', description: 'answers per variant per round', placeholder: 'n' },
    accounts: { type: 'string', default: '20', description: 'accounts per list answer', placeholder: 'n' },
  },
});
const rounds = intOption('rounds', values.rounds);
const block = intOption('block', values.block);
const accounts = intOption('accounts', values.accounts);

const money = (n: number) => ({ amountMinor: String(n * 100), currency: 'EUR' });
/** One account as the subgraphs' merged data holds it for the account-360 selections (with __typename and keys). */
function account(i: number): Record<string, unknown> {
  const id = `acc_${i}`;
  const sub = (k: number) => ({ __typename: 'BillingSubscription', id: `${id}_s${k}`, status: 'ACTIVE', mrr: money(k), items: [1, 2, 3].map((q) => ({ __typename: 'SubscriptionItem', quantity: q, plan: { __typename: 'Plan', id: `p${q}`, code: `plan-${q}` } })) });
  return {
    __typename: 'Account', id, name: `Account ${i}`, lifecycleStage: 'CUSTOMER', externalIds: [{ __typename: 'ExternalRef', system: 'CRM', remoteId: `r${i}` }],
    contacts: { __typename: 'ContactConnection', nodes: [0, 1, 2, 3, 4].map((k) => ({ __typename: 'Contact', id: `${id}_c${k}`, email: `c${k}@x.test` })) },
    opportunities: { __typename: 'OpportunityConnection', nodes: [0, 1].map((k) => ({ __typename: 'Opportunity', id: `${id}_o${k}`, stage: 'PROPOSAL', amount: money(k) })) },
    creditLimit: money(50), creditStatus: 'OK', balance: money(7),
    invoices: { __typename: 'InvoiceConnection', nodes: [0, 1, 2, 3, 4].map((k) => ({ __typename: 'Invoice', id: `${id}_i${k}`, number: `INV-${k}`, status: 'POSTED', total: money(k), subscription: sub(k) })) },
    payments: { __typename: 'PaymentConnection', nodes: [0, 1].map((k) => ({ __typename: 'Payment', id: `${id}_p${k}`, amount: money(k) })) },
    subscriptions: [0, 1, 2].map(sub),
    syncStatus: [{ __typename: 'SystemSyncStatus', system: 'ERP', state: 'SYNCED', lastSyncedAt: '2026-12-01T00:00:00.000Z' }],
  };
}

const supergraph = Supergraph.build(readSupergraph());
const apiSchema = supergraph.apiSchema();
const cases = [
  { name: `Account360Page (${accounts} accounts)`, op: 'Account360Page', input: { accounts: { __typename: 'AccountConnection', pageInfo: { __typename: 'PageInfo', hasNextPage: true, endCursor: 'c' }, nodes: Array.from({ length: accounts }, (_, i) => account(i)) } }, variables: { first: accounts } },
  { name: 'Account360 (one account)', op: 'Account360', input: { account: account(1) }, variables: { id: 'acc_1' } },
  { name: 'AccountSummary', op: 'AccountSummary', input: { account: { __typename: 'Account', id: 'a', name: 'n', domain: null, industry: 'x', lifecycleStage: 'LEAD', owner: null, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z' } }, variables: { id: 'a' } },
];

const original = (schema: object, document: { definitions: readonly DefinitionNode[] }, options?: { operationName?: string; validate?: boolean }) =>
  operationFromDocument(apiSchema, { kind: Kind.DOCUMENT, definitions: [...document.definitions] }, options) as unknown;
const memo = memoizedOperationFromDocument(original);

const rows: string[][] = [];
for (const c of cases) {
  const query = MIX_OPERATIONS.find((o) => o.name === c.op)?.query;
  if (!query) throw new Error(`no mix operation ${c.op}`);
  // Apollo Server keeps one parsed document per query text: the same operation node on every request.
  const document = parse(query);
  const definitions = document.definitions;
  const run = (variant: 'apollo' | 'ours'): string => {
    const operation = (variant === 'apollo' ? original : memo)(apiSchema, { definitions }, { validate: false }) as Operation;
    const shape = variant === 'apollo' ? apolloComputeResponse : computeResponse;
    const { data } = shape({ operation, variables: c.variables, input: structuredClone(c.input), introspectionHandling: () => null });
    return JSON.stringify(data);
  };
  if (run('apollo') !== run('ours')) throw new Error(`${c.name}: the two variants disagree`);
  const inputs = Array.from({ length: block }, () => structuredClone(c.input));
  const cpu = { apollo: 0, ours: 0 };
  for (let r = 0; r < rounds; r++) {
    for (const variant of r % 2 === 0 ? (['apollo', 'ours'] as const) : (['ours', 'apollo'] as const)) {
      const before = process.cpuUsage();
      for (let i = 0; i < block; i++) {
        const operation = (variant === 'apollo' ? original : memo)(apiSchema, { definitions }, { validate: false }) as Operation;
        (variant === 'apollo' ? apolloComputeResponse : computeResponse)({ operation, variables: c.variables, input: inputs[i] ?? c.input, introspectionHandling: () => null });
      }
      const used = process.cpuUsage(before);
      cpu[variant] += used.user + used.system;
    }
  }
  const per = (us: number) => us / (rounds * block);
  rows.push([c.name, per(cpu.apollo).toFixed(1), per(cpu.ours).toFixed(1), (cpu.apollo / cpu.ours).toFixed(2)]);
}
console.log(`${machineDescription()}; ${rounds} rounds x ${block} answers per variant, alternated\n`);
console.log(table(['answer', 'apollo µs/answer', 'ours µs/answer', 'apollo / ours'], rows, { markdown: true }));
