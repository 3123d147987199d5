import type { Principal } from '../lib/auth/principal';

/** Per-request gateway state. Created by the HTTP context function after the token is verified. */
export interface GatewayContext {
  principal: Principal;
  correlationId: string;
}
