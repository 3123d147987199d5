import { badUserInput, notFound } from '../../../lib/errors';
import { enqueueSyncJob } from '../../../lib/outbox';
import type { MutationResolvers } from '../generated/resolvers';
import { adapterFor } from './adapters';
import { settingsInput } from './resolvers';

const MAPPED_RECORDS = {
  CRM: { linkType: 'Account', objectKind: 'account' },
  ERP: { linkType: 'Customer', objectKind: 'customer' },
  BILLING: { linkType: 'Customer', objectKind: 'customer' },
} as const;

/**
 * Field mappings are part of a connection's settings (`fieldMappings`), validated by the adapter's settings schema like
 * any setting, and versioned: each change stored gets the next version. A change queues a resync of the records the
 * mappings cover (every company of a CRM connection, every partner of an ERP one, every customer of a billing one), in the transaction that stores it, keyed by the version so
 * the same change never queues twice; the resync re-reads each record and applies it even when its version is known.
 */
export const mappingMutations: Pick<MutationResolvers, 'setConnectionFieldMappings'> = {
  setConnectionFieldMappings: async (_p, { id, fieldMappings }, ctx) => {
    const store = ctx.deps.connections.store.forTenant(ctx.tenant);
    const [current] = await store.byIds([id]);
    if (!current || !current.enabled) throw notFound('SystemConnection', id);
    const adapter = adapterFor(current.adapter, current.system);
    if (!adapter?.vendorSettings || !('fieldMappings' in adapter.vendorSettings.shape)) {
      throw badUserInput('id', `adapter "${current.adapter}" has no field mappings`);
    }
    let mappings: unknown;
    try {
      mappings = JSON.parse(fieldMappings);
    } catch {
      throw badUserInput('fieldMappings', 'must be a JSON object');
    }
    if (typeof mappings !== 'object' || mappings === null || Array.isArray(mappings)) throw badUserInput('fieldMappings', 'must be a JSON object');
    const previous = (current.settings['fieldMappings'] as { version?: unknown } | undefined)?.version;
    const version = (typeof previous === 'number' ? previous : 1) + 1;
    const settings = settingsInput(JSON.stringify({ ...current.settings, fieldMappings: { ...mappings, version } }), adapter);
    const updated = await ctx.db.transaction(async (tx) => {
      const saved = await store.updateSettings(id, settings, tx);
      if (!saved) return null;
      // The records the mappings cover: a CRM's companies (Account links), an ERP's partners (Customer links).
      const { linkType, objectKind } = MAPPED_RECORDS[saved.system];
      const linked = await tx.query<{ remote_id: string }>(
        `SELECT remote_id FROM sync.remote_links WHERE connection_id = $1 AND tenant_id = $2 AND entity_type = $3 ORDER BY remote_id`, [id, ctx.tenant, linkType],
      );
      for (const { remote_id: remoteId } of linked) {
        const key = `resync:${id}:v${version}:${remoteId}`;
        await enqueueSyncJob(tx, {
          tenant: ctx.tenant, kind: 'REMOTE_CHANGE', entityType: objectKind, entityId: remoteId, sourceSystem: saved.system, targetSystem: null,
          correlationId: ctx.correlationId, idempotencyKey: key,
          payload: { connectionId: id, eventId: key, type: `${objectKind}.resync`, objectKind, remoteId, force: true },
        });
      }
      return saved;
    });
    if (!updated) throw notFound('SystemConnection', id);
    ctx.deps.connections.forget(updated);
    ctx.deps.wake();
    return updated;
  },
};
