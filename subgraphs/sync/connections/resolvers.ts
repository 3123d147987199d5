import { badUserInput, conflict, notFound } from '../../../lib/errors';
import { adapterFor } from './adapters';
import { type AdapterDefinition, outboundSettings } from './adapters';
import type { SyncContext } from '../context';
import type { ConnectionCredentials, ConnectionModel } from './models';
import type { MutationResolvers, QueryResolvers, SystemConnectionResolvers } from '../generated/resolvers';

function credentialsInput(input: { apiKey: string; webhookSecret?: string | null } | null | undefined): ConnectionCredentials | null {
  if (!input) return null;
  // Never echo the value in the error: the message ends up in responses and logs.
  if (input.apiKey.trim().length < 8) throw badUserInput('credentials.apiKey', 'is too short to be an API key');
  return { apiKey: input.apiKey.trim(), webhookSecret: input.webhookSecret?.trim() || null };
}

export function settingsInput(raw: string | null | undefined, adapter: AdapterDefinition): Record<string, unknown> {
  if (!raw) return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw badUserInput('settings', 'must be a JSON object');
  }
  // The outbound knobs every adapter has, plus the vendor's own settings (HubSpot's deal stages, Odoo's db and login).
  const parsed = (adapter.vendorSettings ? outboundSettings.extend(adapter.vendorSettings.shape) : outboundSettings).strict().safeParse(value);
  if (!parsed.success) throw badUserInput('settings', parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return parsed.data;
}

async function owned(ctx: SyncContext, id: string): Promise<ConnectionModel> {
  const [c] = await ctx.deps.connections.store.forTenant(ctx.tenant).byIds([id]);
  if (!c) throw notFound('SystemConnection', id);
  return c;
}

/** Admin-scope API of connections (lib/auth/policy.ts). Credentials go in, and never come out. */
export const connectionQueries: Pick<QueryResolvers, 'connections' | 'connection'> = {
  connections: (_p, _a, ctx) => ctx.deps.connections.store.forTenant(ctx.tenant).list(),
  connection: async (_p, { id }, ctx) => (await ctx.deps.connections.store.forTenant(ctx.tenant).byIds([id]))[0] ?? null,
};

export const connectionMutations: Pick<MutationResolvers, 'createConnection' | 'testConnection' | 'rotateConnectionCredentials' | 'disableConnection'> = {
  createConnection: async (_p, { input }, ctx) => {
    const adapter = adapterFor(input.adapter, input.system);
    if (!adapter) throw badUserInput('input.adapter', `no adapter "${input.adapter}" for ${input.system}`);
    const credentials = credentialsInput(input.credentials);
    if (adapter.needsCredentials && !credentials) throw badUserInput('input.credentials', `adapter "${input.adapter}" needs credentials`);
    const created = await ctx.deps.connections.store.forTenant(ctx.tenant).create({
      system: input.system, adapter: input.adapter, settings: settingsInput(input.settings, adapter), credentials: adapter.needsCredentials ? credentials : null,
    });
    if (!created) throw conflict(`The tenant already has an enabled ${input.system} connection: disable it first`);
    ctx.deps.connections.forget(created);
    return created;
  },
  testConnection: async (_p, { id }, ctx) => {
    const connection = await owned(ctx, id);
    const result = await ctx.deps.connections.test(connection);
    return { ...result, connection: await owned(ctx, id) };
  },
  rotateConnectionCredentials: async (_p, { id, credentials }, ctx) => {
    const creds = credentialsInput(credentials);
    if (!creds) throw badUserInput('credentials', 'are required');
    const rotated = await ctx.deps.connections.store.forTenant(ctx.tenant).rotate(id, creds);
    if (!rotated) throw notFound('SystemConnection', id);
    ctx.deps.connections.forget(rotated);
    return rotated;
  },
  disableConnection: async (_p, { id }, ctx) => {
    const disabled = await ctx.deps.connections.store.forTenant(ctx.tenant).disable(id);
    if (!disabled) throw notFound('SystemConnection', id);
    ctx.deps.connections.forget(disabled);
    return disabled;
  },
};

export const systemConnection: SystemConnectionResolvers = {
  settings: (c) => JSON.stringify(c.settings),
  status: (c) => ({ state: c.state, lastError: c.lastError, lastErrorAt: c.lastErrorAt }),
  webhookPath: (c) => (c.adapter === 'reference' ? null : `/webhooks/${c.adapter}/${c.id}`),
};
