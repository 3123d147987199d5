/**
 * The server under test for the HTTP benchmarks, meant to run in its own process (bench/support.ts startServer):
 * creates a fresh Postgres database, starts the whole stack (subgraphs, gateway, sync worker) on ephemeral ports
 * with BENCH_ACCOUNTS accounts seeded per tenant, prints one JSON line `{"benchReady":{url, token, …}}` on
 * stdout (bench/host.ts announceReady), and on SIGTERM/SIGINT stops the stack, drops the database and deletes its Redis keys.
 *
 * Environment: BENCH_ACCOUNTS (default 200), BENCH_TENANTS (default acme,globex), BENCH_POSTGRES_URL, BENCH_REDIS_URL,
 * and any configuration of lib/config.ts (RESPONSE_CACHE, RATE_LIMITS, LOG_LEVEL …), which is passed through.
 *
 *   npx tsx bench/serve.ts            # then curl the printed URL with the printed token
 */
import { randomBytes } from 'node:crypto';
import { SCOPES } from '../lib/auth/principal';
import { mintToken } from '../lib/auth/tokens';
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { collectProcessMetrics } from '../lib/telemetry/registry';
import { startStack } from '../scripts/stack';
import { BENCH_REDIS_URL, type ServerInfo, announceReady, createDatabase, deleteRedisKeys, runId } from './support';

async function main(): Promise<void> {
  // Node's process metrics, as the product's entry points add them (event loop delay: bench/subscriptions-gauges.ts).
  collectProcessMetrics();
  const accounts = Number(process.env['BENCH_ACCOUNTS'] ?? '200');
  const tenants = (process.env['BENCH_TENANTS'] ?? 'acme,globex').split(',').filter(Boolean);
  if (!Number.isInteger(accounts) || accounts < 1) throw new Error('BENCH_ACCOUNTS must be a positive integer');
  const tenant = tenants[0];
  if (!tenant) throw new Error('BENCH_TENANTS must name at least one tenant');

  const id = runId();
  const database = await createDatabase(`bench_${id}`);
  const redisKeyPrefix = `bench:${id}:`;
  let stopping = false;
  const cleanup = async () => {
    await database.drop().catch((err: unknown) => process.stderr.write(`could not drop ${database.name}: ${String(err)}\n`));
    await deleteRedisKeys(redisKeyPrefix).catch(() => 0);
  };

  try {
    const config = loadConfig({
      ...process.env,
      // Production settings: masked errors, no introspection, no landing page, secrets of this run only.
      NODE_ENV: 'production',
      // Given when the bench starts more gateway instances beside this stack (bench/support.ts startGatewayInstance).
      JWT_SECRET: process.env['BENCH_JWT_SECRET'] ?? randomBytes(32).toString('hex'),
      GATEWAY_SIGNING_SECRET: process.env['BENCH_SIGNING_SECRET'] ?? randomBytes(32).toString('hex'),
      LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn',
      DATABASE_URL: database.url,
      REDIS_URL: BENCH_REDIS_URL,
      REDIS_KEY_PREFIX: redisKeyPrefix,
      // No scheduled reconciliation in the middle of a measurement.
      RECONCILE_INTERVAL_SECONDS: process.env['RECONCILE_INTERVAL_SECONDS'] ?? '0',
      // Benches stand one token for many users: the per-subject cap (100) would stop a fan-out bench at 100.
      SUBSCRIPTION_LIMITS: process.env['SUBSCRIPTION_LIMITS'] ?? '{"perPrincipal":5000}',
    });
    const logger = createLogger(config.logLevel, 'bench-server');
    const seedStarted = Date.now();
    const stack = await startStack({ config, logger, seed: { tenants, accounts }, ephemeralPorts: true });
    const seedMs = Date.now() - seedStarted;
    const token = await mintToken(config.jwt, {
      sub: 'bench-user', tenant, kind: 'user', scopes: SCOPES.filter((s) => s !== 'admin'), ttlSeconds: 6 * 3600,
    });

    const shutdown = async () => {
      if (stopping) return;
      stopping = true;
      let code = 0;
      const started = Date.now();
      try {
        await stack.stop();
      } catch (err) {
        code = 1;
        process.stderr.write(`bench/serve.ts: stack.stop() failed after ${Date.now() - started} ms: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      }
      await cleanup();
      process.exit(code);
    };
    process.once('SIGTERM', () => void shutdown());
    process.once('SIGINT', () => void shutdown());

    const subgraphUrls = Object.fromEntries(Object.entries(stack.subgraphs).map(([name, s]) => [name, s.url]));
    const info: ServerInfo = { url: stack.gateway.url, token, database: database.name, redisKeyPrefix, pid: process.pid, seedMs, subgraphUrls };
    announceReady(info);
  } catch (err) {
    await cleanup();
    throw err;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/serve.ts: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
