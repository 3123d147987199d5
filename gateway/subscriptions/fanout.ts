import { type DocumentNode, type ExecutionResult, type FragmentDefinitionNode, type GraphQLResolveInfo, type GraphQLSchema, type OperationDefinitionNode, Kind, visit } from 'graphql';
import type { Principal } from '../../lib/auth/principal';
import { type EventBus, syncChannel } from '../../lib/events';
import { Group, type GroupOptions, type GroupSpec, Member, type Subscriber, pacer } from './fanout-group';
import type { SyncEvent } from './sync-stream';

export type { SharedResult, Sink, Subscriber } from './fanout-group';

export interface JoinRequest<C extends Subscriber> {
  ctx: C;
  info: GraphQLResolveInfo;
  /** Resume point (an eventId) or null for live events only. */
  after: bigint | null;
  /** Which events this root field delivers (its kind and filter arguments). */
  accept: (e: SyncEvent) => boolean;
  /** Stored events after an id, oldest first, up to PAGE, read through the gateway as `ctx`. */
  read: (ctx: C, after: string) => Promise<SyncEvent[]>;
}


export interface FanOutOptions extends Omit<GroupOptions, 'pace'> {
  bus: EventBus;
  /** Subscribers written to per event loop turn, all groups together, before the fan-out yields (setImmediate). */
  sliceSize: number;
  /** Fields whose resolvers execute through the gateway as the subscriber (`job`, `account`, ...). */
  gatewayFields: ReadonlySet<string>;
}

export interface FanOut {
  /** Adds a subscriber to the group its request belongs to; the returned stream ends when it leaves. */
  join<C extends Subscriber>(req: JoinRequest<C>): AsyncGenerator<ExecutionResult>;
  stats(): { groups: number; members: number; tenants: number };
}


/** Interns objects to small numbers for group keys (the object itself is never kept alive by the key). */
function interner<T extends object>() {
  const ids = new WeakMap<T, number>();
  let next = 0;
  return (o: T): number => {
    let id = ids.get(o);
    if (id === undefined) ids.set(o, (id = next++));
    return id;
  };
}

/** The operation's own document: the operation and the fragments it may use, built once per operation node. */
const documents = new WeakMap<OperationDefinitionNode, DocumentNode>();
function documentOf(info: GraphQLResolveInfo): DocumentNode {
  let doc = documents.get(info.operation);
  if (!doc) {
    const fragments: FragmentDefinitionNode[] = Object.values(info.fragments);
    doc = { kind: Kind.DOCUMENT, definitions: [info.operation, ...fragments] };
    documents.set(info.operation, doc);
  }
  return doc;
}

/** Whether the operation selects a field executed through the gateway (then the answer depends on who asks). */
const usesGatewayCache = new WeakMap<OperationDefinitionNode, boolean>();
function usesGateway(info: GraphQLResolveInfo, fields: ReadonlySet<string>): boolean {
  let uses = usesGatewayCache.get(info.operation);
  if (uses === undefined) {
    let found = false;
    const check = { Field: (node: { name: { value: string } }) => void (fields.has(node.name.value) && (found = true)) };
    visit(info.operation, check);
    for (const f of Object.values(info.fragments)) visit(f, check);
    uses = found;
    usesGatewayCache.set(info.operation, uses);
  }
  return uses;
}

/** The variable that carries `after` on the root field, if any: it is left out of the group key. */
function afterVariable(info: GraphQLResolveInfo): string | null {
  const arg = info.fieldNodes[0]?.arguments?.find((a) => a.name.value === 'after');
  return arg?.value.kind === Kind.VARIABLE ? arg.value.name.value : null;
}

/**
 * The authorization-relevant facts of a principal. Always the token kind and, for partners, who they are: a group's
 * ledger reads run as one of its members, and a partner's operations may be held to its own allowlist. For answers
 * that go through the gateway, also the scope set. Payload-only answers depend on no scope (the root field's scope
 * was checked at subscribe), so users with different scopes share them.
 */
function principalKey(p: Principal, withScopes: boolean): string {
  return JSON.stringify([p.kind, p.kind === 'partner' ? p.sub : '', withScopes ? [...p.scopes].sort() : []]);
}

/** One fan-out core for every transport (graphql-ws and SSE): groups, their tenant feeds on the bus, and replays. */
export function fanOut(opts: FanOutOptions): FanOut {
  const groups = new Map<string, Group>();
  const groupOptions: GroupOptions = { ...opts, pace: pacer(opts.sliceSize) };
  const feeds = new Map<string, { groups: Set<Group>; ready: Promise<void>; off: Promise<() => Promise<void>> }>();
  const schemaId = interner<GraphQLSchema>();
  const operationId = interner<OperationDefinitionNode>();

  const feedOf = (tenant: string) => {
    let feed = feeds.get(tenant);
    if (!feed) {
      const members = new Set<Group>();
      // One parse per event for the tenant, whatever the number of groups.
      const off = opts.bus.subscribe(syncChannel(tenant), (message) => {
        let e: SyncEvent;
        try {
          e = JSON.parse(message) as SyncEvent;
        } catch {
          return;
        }
        for (const g of members) g.push(e);
      });
      const created = { groups: members, off, ready: off.then(() => undefined) };
      // A failed subscribe (Redis away) fails the groups waiting on it; the next subscriber tries afresh.
      off.catch(() => {
        if (feeds.get(tenant) === created) feeds.delete(tenant);
      });
      created.ready.catch(() => undefined);
      feed = created;
      feeds.set(tenant, feed);
    }
    return feed;
  };

  return {
    stats: () => {
      let members = 0;
      for (const g of groups.values()) members += g.size;
      return { groups: groups.size, members, tenants: feeds.size };
    },
    join(req) {
      const { info, ctx } = req;
      const tenant = ctx.principal.tenant;
      const skip = afterVariable(info);
      const variables = skip === null ? info.variableValues : Object.fromEntries(Object.entries(info.variableValues).filter(([k]) => k !== skip));
      const who = principalKey(ctx.principal, usesGateway(info, opts.gatewayFields));
      const key = JSON.stringify([tenant, schemaId(info.schema), operationId(info.operation), info.operation.name?.value ?? '', variables, who]);
      let group = groups.get(key);
      if (!group) {
        const feed = feedOf(tenant);
        const spec: GroupSpec = {
          tenant, schema: info.schema, document: documentOf(info), operationName: info.operation.name?.value, variableValues: info.variableValues,
          accept: req.accept, read: req.read as (c: Subscriber, after: string) => Promise<SyncEvent[]>,
        };
        const created: Group = new Group(spec, ctx, feed.ready, groupOptions, (g) => {
          if (groups.get(key) === g) groups.delete(key);
          feed.groups.delete(g);
          if (feed.groups.size === 0 && feeds.get(tenant) === feed) {
            feeds.delete(tenant);
            void feed.off.then((off) => off()).catch(() => undefined);
          }
        });
        group = created;
        groups.set(key, group);
        feed.groups.add(group);
      }
      const g = group;
      const member = new Member(ctx, req.after, (m) => g.remove(m));
      g.add(member);
      return member.stream;
    },
  };
}
