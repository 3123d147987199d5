import type { AccessToken } from '../../../lib/connectors/oauth-tokens';
import type { OutboundHealth } from '../../../lib/connectors/outbound-policy';
import type { SystemName } from '../../../lib/outbox';

export type ConnectionState = OutboundHealth | 'DISABLED';

/** A connection as the API and the registry see it: never the credentials themselves. */
export interface ConnectionModel {
  id: string;
  tenant: string;
  system: SystemName;
  adapter: string;
  settings: Record<string, unknown>;
  /** Fingerprint and last four characters of the API key; null when the adapter needs none (reference). */
  credentials: { fingerprint: string; last4: string; keyId: string; rotatedAt: string | null } | null;
  enabled: boolean;
  state: ConnectionState;
  lastError: string | null;
  lastErrorAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** What a caller hands over; sealed at once and only opened by the connection runtime to build an adapter. */
export interface ConnectionCredentials {
  apiKey: string;
  /** The vendor's webhook signing secret (Stripe `whsec_...`). */
  webhookSecret?: string | null;
  /**
   * OAuth connections: the current access token, written with the refresh token (`apiKey`) whenever it is renewed,
   * so every process uses one token and renewals happen once. Never given through the API.
   */
  accessToken?: AccessToken | null;
}
