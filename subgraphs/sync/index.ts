import { join } from 'node:path';
import type { SubgraphDefinition } from '../runtime/server';
import { type SyncContext, type SyncDeps, syncContext } from './context';
import { resolvers } from './resolvers';
import { webhookRoutes } from './webhooks';

export function syncSubgraph(deps: SyncDeps): SubgraphDefinition<SyncContext> {
  return { name: 'sync', resolvers, context: syncContext(deps), routes: webhookRoutes(deps.connections, deps.wake) };
}
export const SYNC_MIGRATIONS = join(__dirname, 'migrations');
