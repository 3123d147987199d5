import { join } from 'node:path';
import type { SubgraphDefinition } from '../runtime/server';
import { type ErpContext, erpContext } from './context';
import { resolvers } from './resolvers';

export const erpSubgraph: SubgraphDefinition<ErpContext> = { name: 'erp', resolvers, context: erpContext };
export const ERP_MIGRATIONS = join(__dirname, 'migrations');
