/**
 * What a refused request costs the gateway (issue 17 item 3): `npx tsx bench/refusals.ts`.
 *
 * Starts the stack in this process twice on one database: with Redis (the rate limiter keeps a local view, so a
 * principal known to be spent is refused before its body is read: gateway/fairness.ts `refuseEarly`) and without
 * (the in-memory limiter has no synchronous view: the refusal comes from the context function, through Apollo's
 * error path, as every refusal did before). A partner whose budget is spent then sends the account 360 on
 * `--connections` autocannon connections (a child process) for `--duration` s; the table gives 429s per second and
 * this process's CPU per refusal. Run under `node --cpu-prof --import tsx bench/refusals.ts` to see where the time goes.
 *
 *   npx tsx bench/refusals.ts [--connections 50] [--duration 8]
 */
import { parseCli } from '../lib/cli';
import { mintToken } from '../lib/auth/tokens';
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { startStack } from '../scripts/stack';
import { ACCOUNT_360 } from '../test/support/queries';
import { BENCH_REDIS_URL, autocannonProcess, createDatabase, deleteRedisKeys, intOption, machineDescription, runId, table } from './support';

const autocannon = (url: string, token: string, body: string, connections: number, seconds: number) => autocannonProcess({ url, token, body, connections, seconds });

async function main(): Promise<void> {
  const { values } = parseCli({
    usage: 'npx tsx bench/refusals.ts [options]',
    summary: 'CPU per refused request, refused before the body is read (Redis view) vs through Apollo (no Redis). Needs PostgreSQL and Redis.',
    options: {
      connections: { type: 'string', default: '50', description: 'autocannon connections of the spent partner', placeholder: 'n' },
      duration: { type: 'string', default: '8', description: 'seconds per run', placeholder: 's' },
    },
  });
  const connections = intOption('--connections', values.connections);
  const duration = intOption('--duration', values.duration);
  const id = runId();
  const database = await createDatabase(`bench_refuse_${id}`);
  const rows: string[][] = [];
  try {
    for (const [name, redis] of [['refused before the body is read (Redis view)', true], ['refused in the context function (no Redis)', false]] as const) {
      const prefix = `bench:${id}:${rows.length}:`;
      const config = loadConfig({
        ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'warn', DATABASE_URL: database.url, REDIS_KEY_PREFIX: prefix, RESPONSE_CACHE: 'off',
        RECONCILE_INTERVAL_SECONDS: '0', JWT_SECRET: `bench-${id}-`.padEnd(40, 'x'), GATEWAY_SIGNING_SECRET: `bench-sign-${id}-`.padEnd(40, 'x'),
        RATE_LIMITS: JSON.stringify({ perKind: { partner: 1 } }), ...(redis ? { REDIS_URL: BENCH_REDIS_URL } : { REDIS_URL: undefined }),
      });
      const stack = await startStack({ config, logger: createLogger('warn', 'bench'), seed: { tenants: ['acme'], accounts: 20 }, ephemeralPorts: true });
      try {
        const token = await mintToken(config.jwt, { sub: 'spent-partner', tenant: 'acme', kind: 'partner', scopes: ['crm:read', 'finance:read', 'billing:read', 'sync:read'], ttlSeconds: 3600 });
        const body = JSON.stringify({ query: ACCOUNT_360, variables: { first: 20 } });
        // Spend the 1-point budget, then warm the refusal path.
        await autocannon(stack.gateway.url, token, body, 2, 1);
        const before = process.cpuUsage();
        const run = await autocannon(stack.gateway.url, token, body, connections, duration);
        const cpu = process.cpuUsage(before);
        const refused = run.statuses['429'] ?? 0;
        rows.push([name, String(run.requests), (refused / duration).toFixed(0), refused ? (((cpu.user + cpu.system) / 1000) / refused).toFixed(3) : '-', JSON.stringify(run.statuses)]);
      } finally {
        await stack.stop();
        await deleteRedisKeys(prefix).catch(() => 0);
      }
    }
  } finally {
    await database.drop();
  }
  process.stdout.write(`${machineDescription()}\nA spent partner's account 360 on ${connections} connections, ${duration} s per run (gateway and subgraphs in this process):\n`);
  process.stdout.write(`${table(['path', 'responses', '429/s', 'CPU ms per 429', 'statuses'], rows)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
