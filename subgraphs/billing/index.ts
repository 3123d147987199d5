import { join } from 'node:path';
import type { SubgraphDefinition } from '../runtime/server';
import { type BillingContext, billingContext } from './context';
import { resolvers } from './resolvers';

export const billingSubgraph: SubgraphDefinition<BillingContext> = { name: 'billing', resolvers, context: billingContext };
export const BILLING_MIGRATIONS = join(__dirname, 'migrations');
