import { GraphQLError, type GraphQLSchema, extendSchema, isObjectType, parse } from 'graphql';
import { subscriptionScope } from '../../lib/auth/policy';
import { readSubscriptionSdl } from '../../lib/schema';
import { shownMessage } from '../../lib/scoped-message';
import type { Principal } from '../../lib/auth/principal';
import { badUserInput, forbidden } from '../../lib/errors';
import type { EventBus } from '../../lib/events';
import { type ExecuteAsSubscriber, aliasAwareFieldResolver, resolveThroughGateway } from './federated';
import { PAGE, type SyncEvent, type SyncEventFilter, syncEventStream } from './sync-stream';

/** The live root type (schema/subscriptions.graphql), added to the gateway's API schema whenever the supergraph changes. */
const SUBSCRIPTION_DOCUMENT = parse(readSubscriptionSdl());


/** Per-subscriber state the resolvers need; created by the WebSocket server for each subscribe. */
export interface SubscriptionContext {
  principal: Principal;
  execute: ExecuteAsSubscriber;
  bus: EventBus;
  maxBuffered: number;
  dropSlowConsumer: () => void;
}

const EVENT_FIELDS = 'eventId jobId kind entityType entityId targetSystem state attempts errorCode message correlationId at';

export function buildSubscriptionSchema(apiSchema: GraphQLSchema): GraphQLSchema {
  const schema = extendSchema(apiSchema, SUBSCRIPTION_DOCUMENT);
  const root = schema.getSubscriptionType();
  const change = schema.getType('SyncStatusChange');
  if (!root || !isObjectType(change)) throw new Error('subscription schema is incomplete');

  const field = root.getFields()['syncStatusChanged'];
  if (!field) throw new Error('syncStatusChanged missing');
  field.subscribe = (_source, args: { filter?: SyncEventFilter | null; after?: string | null }, ctx: SubscriptionContext) =>
    eventStream(ctx, args.after, args.filter ?? {}, (e) => e.jobId !== null, {
      field: 'syncEvents',
      query: `query Resume($after: ID!) { syncEvents(after: $after, first: ${PAGE}) { ${EVENT_FIELDS} } }`,
    });
  field.resolve = (event: SyncEvent) => event;

  const fields = change.getFields();
  const set = (name: string, resolve: NonNullable<(typeof fields)[string]>['resolve']) => {
    const f = fields[name];
    if (!f) throw new Error(`SyncStatusChange.${name} missing`);
    f.resolve = resolve;
  };
  statusStream(schema, {
    field: 'invoiceStatusChanged', kind: 'INVOICE_STATUS', idArg: 'invoiceId', type: 'InvoiceStatusChange', entityField: 'invoice', rootField: 'invoice',
  });
  statusStream(schema, {
    field: 'subscriptionStatusChanged', kind: 'SUBSCRIPTION_STATUS', idArg: 'subscriptionId', type: 'SubscriptionStatusChange', entityField: 'subscription', rootField: 'billingSubscription',
  });
  set('event', (e: SyncEvent) => e);
  eventMessagesForReader(schema);
  set('job', (e: SyncEvent, _a, ctx: SubscriptionContext, info) => (e.jobId ? resolveThroughGateway(ctx.execute, 'syncJob', e.jobId, info) : null));
  set('account', (e: SyncEvent, _a, ctx: SubscriptionContext, info) =>
    e.entityType === 'Account' ? resolveThroughGateway(ctx.execute, 'account', e.entityId, info) : null,
  );
  authorizeRootFields(schema);
  return schema;
}

/**
 * A live event comes from the bus with its message's classified parts (subgraphs/sync/engine/recorded-message.ts):
 * each subscriber sees the values its own scopes may read, as `syncEvents` shows them over HTTP. Events read through
 * the gateway (a resume page) were rendered for the subscriber by the sync subgraph already.
 */
function eventMessagesForReader(schema: GraphQLSchema): void {
  const type = schema.getType('SyncEvent');
  const message = isObjectType(type) ? type.getFields()['message'] : undefined;
  if (!message) throw new Error('SyncEvent.message missing');
  message.resolve = (e: SyncEvent, args, ctx: SubscriptionContext, info) =>
    e.messageParts != null ? shownMessage(e.message, e.messageParts, ctx.principal.scopes) : aliasAwareFieldResolver(e, args, ctx, info);
}

/**
 * Guards every root field's `subscribe` with the policy table. graphql-js calls `subscribe` of exactly the root field
 * it collected from the operation (through inline and named fragments, `@skip`/`@include` applied to the variables),
 * so whatever the document's shape, no stream starts for a field the subscriber may not read. Fields missing from
 * the table are denied.
 */
function authorizeRootFields(schema: GraphQLSchema): void {
  for (const [name, field] of Object.entries(schema.getSubscriptionType()?.getFields() ?? {})) {
    const subscribe = field.subscribe;
    const scope = subscriptionScope(name);
    field.subscribe = (source, args, ctx: SubscriptionContext, info) => {
      if (!scope) throw forbidden(`${name} is not open to subscribers`);
      if (!ctx.principal.scopes.has(scope)) throw forbidden(`Requires scope ${scope}`);
      return subscribe?.(source, args, ctx, info);
    };
  }
}

interface StatusStreamSpec {
  field: string;
  kind: 'INVOICE_STATUS' | 'SUBSCRIPTION_STATUS';
  idArg: string;
  type: string;
  entityField: string;
  /** Root query field that reads the entity through the gateway. */
  rootField: string;
}

/** A business status subscription: same ledger, ids and gap-free resume as sync status, one kind of event. */
function statusStream(schema: GraphQLSchema, spec: StatusStreamSpec): void {
  const field = schema.getSubscriptionType()?.getFields()[spec.field];
  const type = schema.getType(spec.type);
  if (!field || !isObjectType(type)) throw new Error(`${spec.field} missing`);
  field.subscribe = (_s, args: Record<string, string | null | undefined>, ctx: SubscriptionContext) =>
    eventStream(ctx, args['after'], { entityId: args[spec.idArg] ?? null }, (e) => e.kind === spec.kind, {
      field: 'statusEvents',
      query: `query Resume($after: ID!, $kinds: [String!]!) { statusEvents(after: $after, kinds: $kinds, first: ${PAGE}) { ${EVENT_FIELDS} } }`,
      variables: { kinds: [spec.kind] },
    });
  field.resolve = (event: SyncEvent) => event;
  const fields = type.getFields();
  const idField = fields[`${spec.entityField}Id`];
  const status = fields['status'];
  const entity = fields[spec.entityField];
  if (!idField || !status || !entity) throw new Error(`${spec.type} is incomplete`);
  idField.resolve = (e: SyncEvent) => e.entityId;
  status.resolve = (e: SyncEvent) => e.state;
  entity.resolve = (e: SyncEvent, _a, ctx: SubscriptionContext, info) => resolveThroughGateway(ctx.execute, spec.rootField, e.entityId, info);
}

/** A subscriber's gap-free stream; stored events are read through the gateway (as the subscriber) with `source`. */
function eventStream(
  ctx: SubscriptionContext,
  after: string | null | undefined,
  filter: SyncEventFilter,
  accept: (e: SyncEvent) => boolean,
  source: { field: 'syncEvents' | 'statusEvents'; query: string; variables?: Record<string, unknown> },
): AsyncGenerator<SyncEvent> {
  if (after != null && !/^\d{1,18}$/.test(after)) throw badUserInput('after', 'must be an eventId');
  return syncEventStream({
    bus: ctx.bus,
    tenant: ctx.principal.tenant,
    after: after ?? null,
    filter,
    accept,
    maxBuffered: ctx.maxBuffered,
    onSlowConsumer: ctx.dropSlowConsumer,
    fetchAfter: async (from) => {
      const res = await ctx.execute(source.query, { ...source.variables, after: from });
      const first = res.errors?.[0];
      // The ledger's own code (FORBIDDEN, UPSTREAM_UNAVAILABLE...) reaches the subscriber.
      if (first) throw new GraphQLError(`resume failed: ${first.message}`, { extensions: first.extensions });
      return (res.data?.[source.field] as SyncEvent[] | undefined) ?? [];
    },
  });
}
