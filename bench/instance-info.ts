/**
 * The ready line of bench/serve-gateway.ts (bench/host.ts announceReady), shared with bench/support.ts. Its own module so that the gateway process
 * under test does not load the load generator's modules (autocannon, pg) through bench/support.ts.
 */
import { z } from 'zod';

export const gatewayInstanceInfo = z.object({ url: z.string().url(), pid: z.number().int() });
export type GatewayInstanceInfo = z.infer<typeof gatewayInstanceInfo>;
