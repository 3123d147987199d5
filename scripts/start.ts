import { mintToken } from '../lib/auth/tokens';
import { SCOPES } from '../lib/auth/principal';
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { startStack } from './stack';
import { startStripeDemo } from './stripe-demo';
import { onShutdown, runMain } from '../lib/process';
import { startTelemetry } from '../lib/telemetry/setup';

/** `npm start`: the whole product in one process on the embedded default (PGlite, in-memory Redis stand-ins). */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'stack');
  const telemetry = startTelemetry('stack', config);
  const tenants = ['acme', 'globex'];
  const stack = await startStack({ config, logger, seed: { tenants, accounts: config.seedAccounts } });
  const demo = config.demoStripe ? await startStripeDemo(stack, config) : null;
  const token = await mintToken(config.jwt, { sub: 'demo-user', tenant: 'acme', kind: 'user', scopes: SCOPES.filter((s) => s !== 'admin'), ttlSeconds: 12 * 3600 });
  const database = config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite (${config.pgliteDataDir ?? 'in memory'})`;
  process.stdout.write(
    [
      '',
      `Gateway:   ${stack.gateway.url}`,
      `Subgraphs: ${Object.entries(stack.subgraphs).map(([n, s]) => `${n} ${s.url}`).join(', ')}`,
      `Database:  ${database}; tenants ${tenants.join(', ')} with ${config.seedAccounts} accounts each`,
      ...(demo?.lines ?? []),
      '',
      'Token for tenant "acme" (12 h, all scopes):',
      token,
      '',
      `curl -s ${stack.gateway.url} -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" \\`,
      `  -d '{"query":"{ accounts(first: 2) { nodes { name balance { amountMinor currency } subscriptions { status } } } }"}'`,
      '',
    ].join('\n'),
  );
  onShutdown(async () => {
    logger.info('shutting down');
    await stack.stop();
    await demo?.fake.close();
    await telemetry.shutdown();
  });
}

runMain(main);
