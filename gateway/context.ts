import type { Principal } from '../lib/auth/principal';
import type { DerivedExecution } from './trusted-documents';

/** Per-request gateway state. Created by the HTTP context function after the token is verified. */
export interface GatewayContext {
  principal: Principal;
  correlationId: string;
  /**
   * Set by the HTTP front only, which serializes the response itself: a cache hit leaves its stored data JSON here to
   * be spliced into the body unparsed (see response-cache.ts). Apollo shallow-copies the context per operation, so
   * this is a shared holder, not a field to assign.
   */
  cacheSplice?: { data?: string };
  /** Set only by the WebSocket server for the executions it derives from an admitted subscription (trusted-documents.ts). */
  derived?: DerivedExecution;
}
