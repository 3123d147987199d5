import { z } from 'zod';

const DEV_JWT_SECRET = 'dev-only-jwt-secret-change-me-0123456789abcdef';
const DEV_INTERNAL_SECRET = 'dev-only-gateway-signing-secret-0123456789abcdef';

const port = z.coerce.number().int().min(0).max(65535);
const optionalUrl = z.string().url().optional();

const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    DATABASE_URL: optionalUrl,
    PGLITE_DATA_DIR: z.string().optional(),
    REDIS_URL: optionalUrl,
    REDIS_KEY_PREFIX: z.string().default('sor:'),
    RESPONSE_CACHE: z.enum(['on', 'off']).default('on'),
    SUBGRAPH_DEDUP: z.enum(['on', 'off']).default('on'),
    RATE_LIMITS: z.string().optional(),
    SUBSCRIPTION_LIMITS: z.string().optional(),
    JWT_SECRET: z.string().min(32).optional(),
    JWT_ISSUER: z.string().default('sor-gateway'),
    JWT_AUDIENCE: z.string().default('sor-gateway'),
    JWT_JWKS_URL: optionalUrl,
    JWT_JWKS_COOLDOWN_MS: z.coerce.number().int().min(0).default(5000),
    PARTNER_OPERATIONS: z.string().optional(),
    PARTNER_ALLOWLIST_REQUIRED: z.enum(['on', 'off']).optional(),
    DEBUG_ERRORS: z.enum(['0', '1']).default('0'),
    GATEWAY_SIGNING_SECRET: z.string().min(32).optional(),
    HOST: z.string().default('127.0.0.1'),
    GATEWAY_PORT: port.default(4000),
    CRM_PORT: port.default(4001),
    ERP_PORT: port.default(4002),
    BILLING_PORT: port.default(4003),
    SYNC_PORT: port.default(4004),
    CRM_URL: optionalUrl,
    ERP_URL: optionalUrl,
    BILLING_URL: optionalUrl,
    SYNC_URL: optionalUrl,
    SYNC_RETRY_BASE_MS: z.coerce.number().int().positive().default(500),
    SYNC_FAULTS: z.string().optional(),
    RECONCILE_INTERVAL_SECONDS: z.coerce.number().int().min(0).default(3600),
    SEED_ACCOUNTS: z.coerce.number().int().min(0).default(50),
    START_LOG_FILE: z.string().optional(),
    METRICS_TENANTS: z.string().optional(),
    METRICS_OPERATIONS: z.string().optional(),
    SYNC_WORKER_PORT: port.default(4005),
    CONNECTOR_KEYS: z.string().optional(),
    DEMO_STRIPE: z.enum(['on', 'off']).default('off'),
    PARTNER_WEBHOOKS: z.string().optional(),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV !== 'production') return;
    if (!env.GATEWAY_SIGNING_SECRET) ctx.addIssue({ code: 'custom', path: ['GATEWAY_SIGNING_SECRET'], message: 'GATEWAY_SIGNING_SECRET is required in production' });
    if (!env.JWT_SECRET && !env.JWT_JWKS_URL) ctx.addIssue({ code: 'custom', path: ['JWT_JWKS_URL'], message: 'JWT_JWKS_URL (or JWT_SECRET) is required in production' });
  });

export type Env = z.infer<typeof schema>;

export interface Config {
  env: Env['NODE_ENV'];
  production: boolean;
  logLevel: Env['LOG_LEVEL'];
  databaseUrl: string | undefined;
  pgliteDataDir: string | undefined;
  redisUrl: string | undefined;
  redisKeyPrefix: string;
  responseCache: boolean;
  /** Share one subgraph request between identical reads in flight (same signed claims). */
  subgraphDedup: boolean;
  /** JSON overrides of the rate-limit settings (see gateway/rate-limit.ts), e.g. {"perKind":{"partner":5000}}. */
  rateLimits: Record<string, unknown>;
  /** JSON overrides of the WebSocket limits (see gateway/subscriptions/server.ts), e.g. {"maxPayloadBytes":262144}. */
  subscriptionLimits: Record<string, unknown>;
  jwt: { secret: string; issuer: string; audience: string; jwksUrl?: string; jwksCooldownMs?: number };
  /** Trusted documents: partner `sub` -> sha256 hashes of the operations it may send (JSON). */
  partnerOperations: Record<string, unknown>;
  /** Refuse partner tokens whose `sub` has no PARTNER_OPERATIONS entry (default: on in production). */
  partnerAllowlistRequired: boolean;
  /** Stack traces in `extensions.stacktrace` (DEBUG_ERRORS=1; never in production). */
  debugErrors: boolean;
  /** Secret the gateway signs forwarded claims with; subgraphs verify with it. */
  internalSecret: string;
  host: string;
  ports: { gateway: number; crm: number; erp: number; billing: number; sync: number };
  subgraphUrls: { crm: string; erp: string; billing: string; sync: string };
  sync: { retryBaseMs: number; faults: string | undefined; reconcileIntervalSeconds: number };
  seedAccounts: number;
  /** Where `npm start` writes its full log (the console shows warnings and errors only). */
  startLogFile: string | undefined;
  /** Label policy of /metrics (lib/telemetry/registry.ts) and the worker's operational port (/metrics, /healthz, /readyz). */
  metrics: { tenants: string[]; operations: string[] | null; workerPort: number };
  /** Keys that encrypt connection credentials at rest (`id:base64,...`, active first); a dev key outside production. */
  connectorKeys: string | undefined;
  /** `npm start` only: run the Stripe fake and put tenant acme's billing on the Stripe adapter. */
  demoStripe: boolean;
  /** JSON settings of webhooks to partners (subgraphs/sync/partner-webhooks/settings.ts), e.g. {"timeoutMs":5000}. */
  partnerWebhooks: Record<string, unknown>;
}

/** Reads and validates configuration from the environment; fails fast with every problem named. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(source);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new Error(`Invalid configuration:\n${problems}`);
  }
  const e = parsed.data;
  const url = (explicit: string | undefined, p: number) => explicit ?? `http://${e.HOST}:${p}/graphql`;
  return {
    env: e.NODE_ENV,
    production: e.NODE_ENV === 'production',
    logLevel: e.LOG_LEVEL,
    databaseUrl: e.DATABASE_URL,
    pgliteDataDir: e.PGLITE_DATA_DIR,
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    responseCache: e.RESPONSE_CACHE === 'on',
    subgraphDedup: e.SUBGRAPH_DEDUP === 'on',
    rateLimits: parseJsonObject('RATE_LIMITS', e.RATE_LIMITS),
    subscriptionLimits: parseJsonObject('SUBSCRIPTION_LIMITS', e.SUBSCRIPTION_LIMITS),
    jwt: { secret: e.JWT_SECRET ?? DEV_JWT_SECRET, issuer: e.JWT_ISSUER, audience: e.JWT_AUDIENCE, ...(e.JWT_JWKS_URL ? { jwksUrl: e.JWT_JWKS_URL, jwksCooldownMs: e.JWT_JWKS_COOLDOWN_MS } : {}) },
    partnerOperations: parseJsonObject('PARTNER_OPERATIONS', e.PARTNER_OPERATIONS),
    partnerAllowlistRequired: e.PARTNER_ALLOWLIST_REQUIRED ? e.PARTNER_ALLOWLIST_REQUIRED === 'on' : e.NODE_ENV === 'production',
    debugErrors: e.DEBUG_ERRORS === '1' && e.NODE_ENV !== 'production',
    internalSecret: e.GATEWAY_SIGNING_SECRET ?? DEV_INTERNAL_SECRET,
    host: e.HOST,
    ports: { gateway: e.GATEWAY_PORT, crm: e.CRM_PORT, erp: e.ERP_PORT, billing: e.BILLING_PORT, sync: e.SYNC_PORT },
    subgraphUrls: {
      crm: url(e.CRM_URL, e.CRM_PORT), erp: url(e.ERP_URL, e.ERP_PORT), billing: url(e.BILLING_URL, e.BILLING_PORT), sync: url(e.SYNC_URL, e.SYNC_PORT),
    },
    sync: { retryBaseMs: e.SYNC_RETRY_BASE_MS, faults: e.SYNC_FAULTS, reconcileIntervalSeconds: e.RECONCILE_INTERVAL_SECONDS },
    seedAccounts: e.SEED_ACCOUNTS,
    startLogFile: e.START_LOG_FILE,
    metrics: { tenants: list(e.METRICS_TENANTS) ?? [], operations: list(e.METRICS_OPERATIONS) ?? null, workerPort: e.SYNC_WORKER_PORT },
    connectorKeys: e.CONNECTOR_KEYS,
    demoStripe: e.DEMO_STRIPE === 'on',
    partnerWebhooks: parseJsonObject('PARTNER_WEBHOOKS', e.PARTNER_WEBHOOKS),
  };
}

/** A comma-separated list; undefined when the variable is unset or blank. */
function list(raw: string | undefined): string[] | undefined {
  const items = (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return items.length ? items : undefined;
}

function parseJsonObject(name: string, raw: string | undefined): Record<string, unknown> {
  if (!raw) return {};
  try {
    const value: unknown = JSON.parse(raw);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through to the error below
  }
  throw new Error(`Invalid configuration:\n  ${name}: must be a JSON object`);
}
