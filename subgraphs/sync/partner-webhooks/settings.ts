import { z } from 'zod';

/**
 * Delivery settings of partner webhooks, from `PARTNER_WEBHOOKS` (a JSON object; every key optional), validated at
 * start-up. Example for local use: `PARTNER_WEBHOOKS='{"allowLoopbackHttp":true}'`.
 */
const schema = z
  .object({
    /** Time allowed for one delivery attempt, connection and response included. @default 10000 */
    timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
    /** Attempts per delivery before it gives up (GAVE_UP; replayable). @default 12 */
    maxAttempts: z.number().int().min(1).max(50).default(12),
    /** First retry delay; doubles per attempt, half of it jittered. @default 5000 */
    retryBaseMs: z.number().int().min(1).default(5_000),
    /** Longest delay between two attempts, a receiver's Retry-After included. @default 3600000 (1 h) */
    retryMaxMs: z.number().int().min(1).default(3_600_000),
    /** Consecutive failed attempts (any delivery) after which the endpoint is disabled (FAILURE_STREAK). @default 20 */
    disableAfterFailures: z.number().int().min(1).default(20),
    /** How long the previous secret keeps signing after a rotation when the admin names no grace. @default 86400 */
    secretGraceSeconds: z.number().int().min(0).max(30 * 86_400).default(86_400),
    /** Deliveries one worker process sends at once; 0 runs no delivery loop in this process. @default 4 */
    concurrency: z.number().int().min(0).max(64).default(4),
    /**
     * Deliveries to one endpoint in flight at once across all workers (soft): a hanging partner holds this many slots,
     * never every worker's. 1 also keeps one endpoint's messages close to event order. @default 2
     */
    maxInFlightPerEndpoint: z.number().int().min(1).max(64).default(2),
    /** Finished deliveries (SUCCEEDED, GAVE_UP) are deleted from the log this many days after their last change. @default 30 */
    retentionDays: z.number().int().min(1).max(3650).default(30),
    /** Idle poll interval of the delivery loop. @default 500 */
    pollMs: z.number().int().min(10).default(500),
    /**
     * Development and tests only (refused in production): endpoints may be `http://` on a loopback address
     * (127.0.0.1, ::1, localhost). Otherwise only `https://` to public addresses.
     */
    allowLoopbackHttp: z.boolean().default(false),
    /**
     * Endpoints may resolve to private networks (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7): partners inside
     * your own network. Loopback, link-local (cloud metadata) and unspecified addresses stay refused.
     */
    allowPrivateNetworks: z.boolean().default(false),
  })
  .strict();

export type PartnerWebhookSettings = z.infer<typeof schema>;

export function partnerWebhookSettings(raw: Record<string, unknown>, production: boolean): PartnerWebhookSettings {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`Invalid configuration:\n${parsed.error.issues.map((i) => `  PARTNER_WEBHOOKS.${i.path.join('.')}: ${i.message}`).join('\n')}`);
  }
  if (production && parsed.data.allowLoopbackHttp) {
    throw new Error('Invalid configuration:\n  PARTNER_WEBHOOKS.allowLoopbackHttp: is for development and tests, never production');
  }
  return parsed.data;
}

/** How long a claimed delivery stays locked: a worker that dies mid-request loses it after this. */
export const leaseMs = (s: PartnerWebhookSettings): number => s.timeoutMs + 2_000;
