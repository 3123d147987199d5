/**
 * The ready line of bench/serve-gateway.ts, shared with bench/support.ts. Its own module so that the gateway process
 * under test does not load the load generator's modules (autocannon, pg) through bench/support.ts.
 */
import { z } from 'zod';

/** Marker of the one stdout line of bench/serve-gateway.ts. */
export const GATEWAY_READY_KEY = 'benchGatewayReady';
export const gatewayInstanceInfo = z.object({ url: z.string().url(), pid: z.number().int() });
export type GatewayInstanceInfo = z.infer<typeof gatewayInstanceInfo>;
