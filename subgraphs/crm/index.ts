import { join } from 'node:path';
import type { SubgraphDefinition } from '../runtime/server';
import { type CrmContext, crmContext } from './context';
import { resolvers } from './resolvers';

export const crmSubgraph: SubgraphDefinition<CrmContext> = { name: 'crm', resolvers, context: crmContext };
export const CRM_MIGRATIONS = join(__dirname, 'migrations');
