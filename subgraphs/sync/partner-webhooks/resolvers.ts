import DataLoader from 'dataloader';
import { badUserInput, conflict, notFound } from '../../../lib/errors';
import { encodeCursor, parsePage } from '../../../lib/pagination';
import type { SyncContext } from '../context';
import type {
  MutationResolvers, PartnerWebhookDeliveryResolvers, PartnerWebhookEndpointResolvers, PartnerWebhookEventKind, QueryResolvers,
} from '../generated/resolvers';
import { checkEndpointUrl } from './address-policy';
import type { AttemptModel } from './models';

const MAX_DESCRIPTION = 500;
const MAX_GRACE_SECONDS = 30 * 86_400;

const admin = (ctx: SyncContext) => ctx.deps.partnerWebhooks.forTenant(ctx.tenant);

function urlInput(ctx: SyncContext, raw: string): string {
  const checked = checkEndpointUrl(raw.trim(), ctx.deps.partnerWebhooks.settings);
  if (!checked.ok) throw badUserInput('input.url', checked.reason);
  return checked.url;
}

function kindsInput(kinds: readonly PartnerWebhookEventKind[]): PartnerWebhookEventKind[] {
  if (kinds.length === 0) throw badUserInput('input.eventKinds', 'must name at least one event kind');
  return [...new Set(kinds)];
}

function descriptionInput(raw: string | null | undefined): string | null {
  const d = raw?.trim() ?? '';
  if (d.length > MAX_DESCRIPTION) throw badUserInput('input.description', `is longer than ${MAX_DESCRIPTION} characters`);
  return d || null;
}

/** Attempts per delivery, batched per request (a delivery log page asks for each delivery's attempts). */
const attemptLoaders = new WeakMap<SyncContext, DataLoader<string, AttemptModel[]>>();
function attemptsLoader(ctx: SyncContext): DataLoader<string, AttemptModel[]> {
  let loader = attemptLoaders.get(ctx);
  if (!loader) {
    loader = new DataLoader(async (ids: readonly string[]) => {
      const rows = await admin(ctx).attemptsOf(ids);
      return ids.map((id) => rows.filter((a) => a.deliveryId === id));
    });
    attemptLoaders.set(ctx, loader);
  }
  return loader;
}

/** Admin-scope API of webhooks to partners (lib/auth/policy.ts). The signing secret comes out on create and rotate only. */
export const partnerWebhookQueries: Pick<QueryResolvers, 'partnerWebhookEndpoints' | 'partnerWebhookEndpoint' | 'partnerWebhookDelivery'> = {
  partnerWebhookEndpoints: (_p, _a, ctx) => admin(ctx).list(),
  partnerWebhookEndpoint: (_p, { id }, ctx) => admin(ctx).byId(id),
  partnerWebhookDelivery: (_p, { id }, ctx) => admin(ctx).deliveryById(id),
};

export const partnerWebhookMutations: Pick<
  MutationResolvers,
  | 'createPartnerWebhookEndpoint' | 'updatePartnerWebhookEndpoint' | 'disablePartnerWebhookEndpoint' | 'deletePartnerWebhookEndpoint'
  | 'rotatePartnerWebhookSecret' | 'replayPartnerWebhookDelivery'
> = {
  createPartnerWebhookEndpoint: (_p, { input }, ctx) =>
    admin(ctx).create({ url: urlInput(ctx, input.url), description: descriptionInput(input.description), eventKinds: kindsInput(input.eventKinds) }),
  updatePartnerWebhookEndpoint: async (_p, { id, input }, ctx) => {
    const updated = await admin(ctx).update(id, {
      ...(input.url != null ? { url: urlInput(ctx, input.url) } : {}),
      ...(input.description !== undefined ? { description: descriptionInput(input.description) } : {}),
      ...(input.eventKinds != null ? { eventKinds: kindsInput(input.eventKinds) } : {}),
      ...(input.enabled != null ? { enabled: input.enabled } : {}),
    });
    if (!updated) throw notFound('PartnerWebhookEndpoint', id);
    return updated;
  },
  disablePartnerWebhookEndpoint: async (_p, { id }, ctx) => {
    const disabled = await admin(ctx).update(id, { enabled: false });
    if (!disabled) throw notFound('PartnerWebhookEndpoint', id);
    return disabled;
  },
  deletePartnerWebhookEndpoint: async (_p, { id }, ctx) => {
    if (!(await admin(ctx).remove(id))) throw notFound('PartnerWebhookEndpoint', id);
    return id;
  },
  rotatePartnerWebhookSecret: async (_p, { id, graceSeconds }, ctx) => {
    const grace = graceSeconds ?? ctx.deps.partnerWebhooks.settings.secretGraceSeconds;
    if (!Number.isInteger(grace) || grace < 0 || grace > MAX_GRACE_SECONDS) throw badUserInput('graceSeconds', `must be between 0 and ${MAX_GRACE_SECONDS}`);
    const rotated = await admin(ctx).rotateSecret(id, grace);
    if (!rotated) throw notFound('PartnerWebhookEndpoint', id);
    return rotated;
  },
  replayPartnerWebhookDelivery: async (_p, { id }, ctx) => {
    const replayed = await admin(ctx).replay(id);
    if (replayed === null) throw notFound('PartnerWebhookDelivery', id);
    if (replayed === 'in-flight') throw conflict(`Delivery "${id}" is being sent right now: replay it once this attempt is done`);
    return replayed;
  },
};

export const partnerWebhookEndpoint: PartnerWebhookEndpointResolvers = {
  deliveries: async (e, { states, first, after }, ctx) => {
    const page = parsePage(first, after);
    if (page.afterId !== null && !/^\d{1,18}$/.test(page.afterId)) throw badUserInput('after', 'is not a cursor this API issued');
    const rows = await admin(ctx).deliveries(e.id, states ?? null, page);
    const nodes = rows.slice(0, page.limit);
    const edges = nodes.map((node) => ({ cursor: encodeCursor(node.seq), node }));
    return { edges, nodes, pageInfo: { hasNextPage: rows.length > page.limit, endCursor: edges[edges.length - 1]?.cursor ?? null } };
  },
};

export const partnerWebhookDelivery: PartnerWebhookDeliveryResolvers = {
  payload: (d) => d.body,
  attemptLog: (d, _a, ctx) => attemptsLoader(ctx).load(d.id),
};
