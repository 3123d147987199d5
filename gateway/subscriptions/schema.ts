import { type GraphQLSchema, extendSchema, isObjectType, parse } from 'graphql';
import type { Scope } from '../../lib/auth/principal';
import type { EventBus } from '../../lib/events';
import { type ExecuteAsSubscriber, resolveThroughGateway } from './federated';
import { type SyncEvent, type SyncEventFilter, syncEventStream } from './sync-stream';

/** The live root type, added to the gateway's API schema (rebuilt whenever the supergraph changes). */
const SUBSCRIPTION_SDL = /* GraphQL */ `
  input SyncStatusFilter {
    entityType: String
    entityId: ID
    states: [SyncJobState!]
    systems: [SystemName!]
  }

  """A sync job changed state. \`job\` and \`account\` are read through the gateway with the subscriber's own rights."""
  type SyncStatusChange {
    eventId: ID!
    event: SyncEvent!
    job: SyncJob
    """The account the job is about (null for jobs about other entities)."""
    account: Account
  }

  type Subscription {
    """Sync status changes of the caller's tenant. Pass \`after\` (an eventId) to first receive every event missed since."""
    syncStatusChanged(filter: SyncStatusFilter, after: ID): SyncStatusChange!
  }

  extend schema { subscription: Subscription }
`;

/** Scope each subscription field needs (checked per subscribe, like the subgraphs' policy table for queries). */
export const SUBSCRIPTION_SCOPES: Record<string, Scope> = { syncStatusChanged: 'sync:read' };

/** Per-subscriber state the resolvers need; created by the WebSocket server for each subscribe. */
export interface SubscriptionContext {
  tenant: string;
  execute: ExecuteAsSubscriber;
  bus: EventBus;
  maxBuffered: number;
  dropSlowConsumer: () => void;
}

const EVENT_FIELDS = 'eventId jobId kind entityType entityId targetSystem state attempts errorCode message correlationId at';

export function buildSubscriptionSchema(apiSchema: GraphQLSchema): GraphQLSchema {
  const schema = extendSchema(apiSchema, parse(SUBSCRIPTION_SDL));
  const root = schema.getSubscriptionType();
  const change = schema.getType('SyncStatusChange');
  if (!root || !isObjectType(change)) throw new Error('subscription schema is incomplete');

  const field = root.getFields()['syncStatusChanged'];
  if (!field) throw new Error('syncStatusChanged missing');
  field.subscribe = (_source, args: { filter?: SyncEventFilter | null; after?: string | null }, ctx: SubscriptionContext) => {
    if (args.after != null && !/^\d{1,18}$/.test(args.after)) throw new Error('after must be an eventId');
    return syncEventStream({
      bus: ctx.bus,
      tenant: ctx.tenant,
      after: args.after ?? null,
      filter: args.filter ?? {},
      maxBuffered: ctx.maxBuffered,
      onSlowConsumer: ctx.dropSlowConsumer,
      fetchAfter: async (after) => {
        const res = await ctx.execute(`query Resume($after: ID!) { syncEvents(after: $after, first: 100) { ${EVENT_FIELDS} } }`, { after });
        if (res.errors?.length) throw new Error(`resume failed: ${res.errors[0]?.message ?? 'unknown error'}`);
        return (res.data?.['syncEvents'] as SyncEvent[] | undefined) ?? [];
      },
    });
  };
  field.resolve = (event: SyncEvent) => event;

  const fields = change.getFields();
  const set = (name: string, resolve: NonNullable<(typeof fields)[string]>['resolve']) => {
    const f = fields[name];
    if (!f) throw new Error(`SyncStatusChange.${name} missing`);
    f.resolve = resolve;
  };
  set('eventId', (e: SyncEvent) => e.eventId);
  set('event', (e: SyncEvent) => e);
  set('job', (e: SyncEvent, _a, ctx: SubscriptionContext, info) => resolveThroughGateway(ctx.execute, 'syncJob', e.jobId, info));
  set('account', (e: SyncEvent, _a, ctx: SubscriptionContext, info) =>
    e.entityType === 'Account' ? resolveThroughGateway(ctx.execute, 'account', e.entityId, info) : null,
  );
  return schema;
}
