/**
 * One tenant's flood against another tenant's small queries (issue 11, item 7): `npx tsx bench/fairness.ts`.
 *
 * Starts the whole stack in this process (fresh Postgres database, real Redis, response cache off so every flood
 * request misses it) and drives it from autocannon child processes, so the load generators do not share the gateway's
 * event loop: first globex alone (1 connection of a small query: the idle p50), then acme floods with `--flood`
 * connections of the account 360 (its budget runs out within seconds, so nearly all of it is refused with 429) while
 * globex sends the same small query again. Prints globex's p50/p90 idle and during the flood, and the flood's status
 * counts. The machine is shared with other work: compare the two rows of one run, not runs with each other.
 * `--compare` runs it three times on the same database: with the per-tenant fair share by cost off
 * (maxInFlightCostPerTenant far above any flood) and refusals answered at once (refusalHoldMs 0), then with the fair
 * share on and refusals at once, then with the defaults (refusals held 1 s), so one run gives the before/after pairs.
 *
 *   npx tsx bench/fairness.ts [--flood 200] [--duration 10] [--accounts 50] [--compare]
 */
import { SCOPES } from '../lib/auth/principal';
import { parseCli } from '../lib/cli';
import { mintToken } from '../lib/auth/tokens';
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { startStack } from '../scripts/stack';
import { ACCOUNT_360 } from '../test/support/queries';
import { BENCH_REDIS_URL, type ProcessLoadSummary, autocannonProcess, createDatabase, deleteRedisKeys, intOption, machineDescription, runId, table } from './support';

const SMALL = '{ accounts(first: 2) { nodes { id name } } }';

const autocannon = (url: string, token: string, body: string, connections: number, seconds: number): Promise<ProcessLoadSummary> =>
  autocannonProcess({ url, token, body, connections, seconds });

async function main(): Promise<void> {
  const { values } = parseCli({
    usage: 'npx tsx bench/fairness.ts [options]',
    summary: "Another tenant's small-query latency, idle vs during one tenant's rate-limited flood (autocannon; needs PostgreSQL and Redis).",
    options: {
      flood: { type: 'string', default: '200', description: "connections of acme's account-360 flood", placeholder: 'n' },
      duration: { type: 'string', default: '10', description: 'measured seconds per run', placeholder: 's' },
      accounts: { type: 'string', default: '50', description: 'accounts seeded per tenant', placeholder: 'n' },
      compare: { type: 'boolean', default: false, description: 'run with the fair share off and refusals at once, then the fair share on, then refusals held (same database)' },
    },
  });
  const flood = intOption('--flood', values.flood);
  const duration = intOption('--duration', values.duration);
  const accounts = intOption('--accounts', values.accounts);
  const id = runId();
  const database = await createDatabase(`bench_fair_${id}`);
  const variants: [string, Record<string, unknown>][] = values.compare
    ? [['fair share off, refusals not held', { maxInFlightCostPerTenant: 1_000_000_000, refusalHoldMs: 0 }], ['refusals not held', { refusalHoldMs: 0 }], ['defaults (fair share on, refusals held 1 s)', {}]]
    : [['defaults', {}]];
  process.stdout.write(`${machineDescription()}\n`);
  try {
    for (const [i, [name, rateLimits]] of variants.entries()) await runVariant(name, database.url, `bench:${id}:${i}:`, rateLimits, { flood, duration, accounts, id });
  } finally {
    await database.drop();
  }
}

async function runVariant(
  name: string, databaseUrl: string, prefix: string, rateLimits: Record<string, unknown>, o: { flood: number; duration: number; accounts: number; id: string },
): Promise<void> {
  const { flood, duration, accounts, id } = o;
  const config = loadConfig({
    ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'warn', DATABASE_URL: databaseUrl, REDIS_URL: BENCH_REDIS_URL, REDIS_KEY_PREFIX: prefix,
    RESPONSE_CACHE: 'off', RECONCILE_INTERVAL_SECONDS: '0', JWT_SECRET: `bench-${id}-`.padEnd(40, 'x'), GATEWAY_SIGNING_SECRET: `bench-sign-${id}-`.padEnd(40, 'x'),
    RATE_LIMITS: JSON.stringify(rateLimits),
  });
  const stack = await startStack({ config, logger: createLogger('warn', 'bench'), seed: { tenants: ['acme', 'globex'], accounts }, ephemeralPorts: true });
  try {
    const token = (tenant: string) => mintToken(config.jwt, { sub: `${tenant}-user`, tenant, kind: 'user', scopes: SCOPES.filter((s) => s !== 'admin'), ttlSeconds: 3600 });
    const [acme, globex] = await Promise.all([token('acme'), token('globex')]);
    const small = JSON.stringify({ query: SMALL });
    const big = JSON.stringify({ query: ACCOUNT_360, variables: { first: 20 } });
    await autocannon(stack.gateway.url, globex, small, 1, 2); // warm-up
    const idle = await autocannon(stack.gateway.url, globex, small, 1, duration);
    // The flood runs duration + 4 s; globex is measured after its first 2 s, while it is at full strength.
    const flooding = autocannon(stack.gateway.url, acme, big, flood, duration + 4);
    await new Promise((r) => setTimeout(r, 2000));
    const during = await autocannon(stack.gateway.url, globex, small, 1, duration);
    const floodRun = await flooding;
    const row = (name: string, r: ProcessLoadSummary) => [name, String(r.requests), r.p50.toFixed(1), r.p90.toFixed(1), JSON.stringify(r.statuses)];
    process.stdout.write(`\n${name} (RATE_LIMITS=${JSON.stringify(rateLimits)}): globex small query (1 connection, ${duration} s), idle vs during acme's flood of ${flood} connections (account 360, cache off):\n`);
    process.stdout.write(`${table(['run', 'requests', 'p50 ms', 'p90 ms', 'statuses'], [row('globex idle', idle), row('globex during flood', during), row(`acme flood (${flood} conn)`, floodRun)])}\n`);
  } finally {
    await stack.stop();
    await deleteRedisKeys(prefix).catch(() => 0);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
