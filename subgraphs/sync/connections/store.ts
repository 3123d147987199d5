import type { Db, Queryable, Row } from '../../../lib/db/db';
import { iso, isoOrNull, newId, str, strOrNull } from '../../../lib/db/rows';
import { AuthError } from '../../../lib/connectors/errors';
import type { AccessToken, RenewRequest } from '../../../lib/connectors/oauth-tokens';
import type { OutboundHealth } from '../../../lib/connectors/outbound-policy';
import { type KeyRing, type SealedSecret, describeSecret } from '../../../lib/connectors/secret-box';
import type { SystemName } from '../../../lib/outbox';
import type { ConnectionCredentials, ConnectionModel, ConnectionState } from './models';

const COLS = `id, tenant_id, system, adapter, settings, credentials_key_id, credentials_fingerprint, credentials_last4, credentials_rotated_at,
  enabled, state, last_error, last_error_at, created_at, updated_at`;

function connection(r: Row): ConnectionModel {
  const fingerprint = strOrNull(r['credentials_fingerprint']);
  return {
    id: str(r['id']), tenant: str(r['tenant_id']), system: str(r['system']) as SystemName, adapter: str(r['adapter']),
    settings: (r['settings'] as Record<string, unknown> | null) ?? {},
    credentials: fingerprint
      ? { fingerprint, last4: str(r['credentials_last4']), keyId: str(r['credentials_key_id']), rotatedAt: isoOrNull(r['credentials_rotated_at']) }
      : null,
    enabled: r['enabled'] === true,
    state: r['enabled'] === true ? (str(r['state']) as ConnectionState) : 'DISABLED',
    lastError: strOrNull(r['last_error']), lastErrorAt: isoOrNull(r['last_error_at']),
    createdAt: iso(r['created_at']), updatedAt: iso(r['updated_at']),
  };
}

/** The additional authenticated data of a connection's sealed credentials: the row they belong to. */
const aad = (tenant: string, id: string) => `connection|${tenant}|${id}`;

export interface NewConnection {
  system: SystemName;
  adapter: string;
  settings: Record<string, unknown>;
  credentials: ConnectionCredentials | null;
}

/**
 * Connections in `sync.connections`. Credentials are sealed before they reach SQL and opened only by `credentialsOf`
 * (the runtime building an adapter); every read the API makes returns the model, which has no secret in it.
 */
export function connectionStore(db: Db, ring: KeyRing) {
  const sealed = (tenant: string, id: string, c: ConnectionCredentials | null) => {
    if (!c) return [null, null, null, null] as const;
    // Sealing first: without keys it throws before anything (even a fingerprint) is written.
    return [JSON.stringify(ring.seal(JSON.stringify(c), aad(tenant, id))), ring.activeKeyId, describeSecret(c.apiKey).fingerprint, describeSecret(c.apiKey).last4] as const;
  };

  return {
    /** Tenant-scoped reads and commands (the admin API). */
    forTenant(tenant: string) {
      return {
        async list(): Promise<ConnectionModel[]> {
          return (await db.query(`SELECT ${COLS} FROM sync.connections WHERE tenant_id = $1 ORDER BY created_at, id`, [tenant])).map(connection);
        },
        async byIds(ids: readonly string[]): Promise<ConnectionModel[]> {
          return (await db.query(`SELECT ${COLS} FROM sync.connections WHERE tenant_id = $1 AND id = ANY($2::text[])`, [tenant, ids])).map(connection);
        },
        /** The enabled connection of `system`, or null: the tenant then uses the built-in reference store. */
        async enabledFor(system: SystemName): Promise<ConnectionModel | null> {
          const [row] = await db.query(`SELECT ${COLS} FROM sync.connections WHERE tenant_id = $1 AND system = $2 AND enabled`, [tenant, system]);
          return row ? connection(row) : null;
        },
        /** Creates an enabled connection; null when the tenant already has an enabled one for that system. */
        async create(input: NewConnection, on: Queryable = db): Promise<ConnectionModel | null> {
          const id = newId('conn');
          const rows = await on.query(
            `INSERT INTO sync.connections (id, tenant_id, system, adapter, settings, credentials, credentials_key_id, credentials_fingerprint, credentials_last4)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (tenant_id, system) WHERE enabled DO NOTHING RETURNING ${COLS}`,
            [id, tenant, input.system, input.adapter, JSON.stringify(input.settings), ...sealed(tenant, id, input.credentials)],
          );
          return rows[0] ? connection(rows[0]) : null;
        },
        /** New credentials; an AUTH_ERROR state is cleared (the next call tells whether they work). */
        async rotate(id: string, credentials: ConnectionCredentials): Promise<ConnectionModel | null> {
          const rows = await db.query(
            `UPDATE sync.connections SET credentials = $3, credentials_key_id = $4, credentials_fingerprint = $5, credentials_last4 = $6,
               credentials_rotated_at = now(), state = CASE WHEN state = 'AUTH_ERROR' THEN 'OK' ELSE state END, updated_at = now()
             WHERE tenant_id = $1 AND id = $2 RETURNING ${COLS}`,
            [tenant, id, ...sealed(tenant, id, credentials)],
          );
          return rows[0] ? connection(rows[0]) : null;
        },
        /** New settings for an enabled connection (validated by the caller), in the caller's transaction. */
        async updateSettings(id: string, settings: Record<string, unknown>, on: Queryable = db): Promise<ConnectionModel | null> {
          const rows = await on.query(`UPDATE sync.connections SET settings = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2 AND enabled RETURNING ${COLS}`, [tenant, id, JSON.stringify(settings)]);
          return rows[0] ? connection(rows[0]) : null;
        },
        async disable(id: string): Promise<ConnectionModel | null> {
          const rows = await db.query(`UPDATE sync.connections SET enabled = false, updated_at = now() WHERE tenant_id = $1 AND id = $2 RETURNING ${COLS}`, [tenant, id]);
          return rows[0] ? connection(rows[0]) : null;
        },
      };
    },

    /** Any tenant's connection by id: how a webhook finds its tenant. */
    async byId(id: string): Promise<ConnectionModel | null> {
      const [row] = await db.query(`SELECT ${COLS} FROM sync.connections WHERE id = $1`, [id]);
      return row ? connection(row) : null;
    },

    /** Opens a connection's credentials. Only the connection runtime calls this, to build an adapter. */
    async credentialsOf(c: ConnectionModel): Promise<ConnectionCredentials | null> {
      const [row] = await db.query<{ credentials: SealedSecret | null }>('SELECT credentials FROM sync.connections WHERE id = $1', [c.id]);
      if (!row?.credentials) return null;
      return JSON.parse(ring.open(row.credentials, aad(c.tenant, c.id))) as ConnectionCredentials;
    },

    /**
     * The connection's OAuth tokens (lib/connectors/oauth-tokens.ts), kept in its sealed credentials. The row is
     * locked for the renewal, so processes renewing at once make one exchange: the first one stores the answer, the
     * others then find a fresh access token. A rotated refresh token is sealed in the same statement (new fingerprint,
     * `credentialsRotatedAt`); `updated_at` stays, since processes rebuild adapters when it moves.
     */
    async renewOAuthToken(c: ConnectionModel, request: RenewRequest): Promise<AccessToken> {
      return db.transaction(async (tx) => {
        const [row] = await tx.query<{ credentials: SealedSecret | null }>('SELECT credentials FROM sync.connections WHERE id = $1 AND tenant_id = $2 FOR UPDATE', [c.id, c.tenant]);
        if (!row?.credentials) throw new AuthError(`connection ${c.id} has no credentials`);
        const stored = JSON.parse(ring.open(row.credentials, aad(c.tenant, c.id))) as ConnectionCredentials;
        const held = stored.accessToken;
        if (held && held.token !== request.rejected && held.expiresAt - request.minValidMs > Date.now()) return held;
        const answer = await request.exchange(stored.apiKey);
        const accessToken: AccessToken = { token: answer.accessToken, expiresAt: Date.now() + answer.expiresIn * 1000 };
        const next: ConnectionCredentials = { ...stored, apiKey: answer.refreshToken || stored.apiKey, accessToken };
        await tx.query(
          `UPDATE sync.connections SET credentials = $3, credentials_key_id = $4, credentials_fingerprint = $5, credentials_last4 = $6,
             credentials_rotated_at = CASE WHEN $7 THEN now() ELSE credentials_rotated_at END
           WHERE id = $1 AND tenant_id = $2`,
          [c.id, c.tenant, ...sealed(c.tenant, c.id, next), next.apiKey !== stored.apiKey],
        );
        return accessToken;
      });
    },

    /** Stores the health the connection's outbound policy observed (written on change only). */
    async setHealth(id: string, health: OutboundHealth, error: string | null): Promise<void> {
      await db.query(
        `UPDATE sync.connections SET state = $2, last_error = COALESCE($3, last_error), last_error_at = CASE WHEN $3::text IS NULL THEN last_error_at ELSE now() END
         WHERE id = $1`,
        [id, health, error],
      );
    },

    /** Notes a failure outside the vendor calls' health (a poll the vendor refused), keeping the state as it is. */
    async noteError(id: string, error: string): Promise<void> {
      await db.query('UPDATE sync.connections SET last_error = $2, last_error_at = now() WHERE id = $1', [id, error]);
    },

    /**
     * Re-wraps every sealed credential still under an older key with the active key (the DEK only). Safe to run from
     * several processes at once: each row is updated only if it still holds what was read.
     */
    async rewrapAll(): Promise<number> {
      if (ring.activeKeyId === null) return 0;
      const rows = await db.query<{ id: string; tenant_id: string; credentials: SealedSecret }>(
        'SELECT id, tenant_id, credentials FROM sync.connections WHERE credentials IS NOT NULL AND credentials_key_id <> $1',
        [ring.activeKeyId],
      );
      let moved = 0;
      for (const r of rows) {
        const next = ring.rewrap(r.credentials, aad(r.tenant_id, r.id));
        const done = await db.query(
          'UPDATE sync.connections SET credentials = $2, credentials_key_id = $3 WHERE id = $1 AND credentials_key_id = $4 RETURNING id',
          [r.id, JSON.stringify(next), next.kid, r.credentials.kid],
        );
        moved += done.length;
      }
      return moved;
    },
  };
}

export type ConnectionStore = ReturnType<typeof connectionStore>;
