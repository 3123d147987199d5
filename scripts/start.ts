import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { mintToken } from '../lib/auth/tokens';
import { SCOPES } from '../lib/auth/principal';
import { parseCli } from '../lib/cli';
import { type Config, loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { type SeedOutcome, startStack } from './stack';
import { startStripeDemo } from './stripe-demo';
import { onShutdown, runMain } from '../lib/process';
import { startTelemetry } from '../lib/telemetry/setup';
import { defaultConsoleDir } from '../gateway/ops-console';

const TENANTS = ['acme', 'globex'];
const DEFAULT_LOG_FILE = join(tmpdir(), 'sor-gateway-start.log');

/** `npm start`: the whole product in one process on the embedded default (PGlite, in-memory Redis stand-ins). */
async function main(): Promise<void> {
  parseCli({
    usage: 'npm start',
    summary:
      'Starts the gateway, the four subgraphs and a sync worker in one process, seeds the demo tenants and prints\n' +
      'the URLs and, in development, a token. Configured by the environment (see the README\'s "Configuration").',
    options: {},
    epilogue:
      `The console shows warnings and errors only; every log line at LOG_LEVEL (default info) goes to
START_LOG_FILE (default ${DEFAULT_LOG_FILE}).\n` +
      'LOG_LEVEL=debug (or any level) puts the console at that level too.',
  });
  const config = loadConfig();
  const logFile = config.startLogFile ?? DEFAULT_LOG_FILE;
  const logger = createLogger(config.logLevel, 'stack', consoleAndFile(config, logFile));
  const telemetry = startTelemetry('stack', config);
  const stack = await startStack({ config, logger, seed: { tenants: TENANTS, accounts: config.seedAccounts } });
  const demo = config.demoStripe ? await startStripeDemo(stack, config) : null;
  onShutdown(async () => {
    logger.info('shutting down');
    await stack.stop();
    await demo?.fake.close();
    await telemetry.shutdown();
  });
  // Demo tokens only in development: in production the secret is real, and a printed token would be a live credential.
  const token = config.production
    ? undefined
    : await mintToken(config.jwt, { sub: 'demo-user', tenant: 'acme', kind: 'user', scopes: SCOPES.filter((s) => s !== 'admin'), ttlSeconds: 12 * 3600 });
  // Printed last, after every start-up line, so it is what the terminal shows.
  process.stdout.write(banner({ config, gatewayUrl: stack.gateway.url, subgraphs: Object.entries(stack.subgraphs).map(([n, s]) => `${n} ${s.url}`), seeded: stack.seeded, token, logFile, extra: demo?.lines ?? [] }));
}

/** Warnings and errors on the console (or LOG_LEVEL when set), everything at LOG_LEVEL in the log file. */
function consoleAndFile(config: Config, logFile: string): pino.DestinationStream {
  // A stream has no 'silent' level; the logger's own level already silences everything then.
  const level: pino.Level = config.logLevel === 'silent' ? 'fatal' : config.logLevel;
  return pino.multistream([
    { level: process.env.LOG_LEVEL ? level : 'warn', stream: process.stdout },
    { level, stream: pino.destination({ dest: logFile, append: false, sync: true }) },
  ]);
}

function banner(opts: { config: Config; gatewayUrl: string; subgraphs: string[]; seeded: SeedOutcome[]; token: string | undefined; logFile: string; extra: readonly string[] }): string {
  const { config } = opts;
  const database = config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite (${config.pgliteDataDir ?? 'in memory'})`;
  const tenants = opts.seeded.map((o) => (o.seeded ? `${o.tenant} seeded with ${o.accounts} accounts` : `${o.tenant} (already had ${o.existing} accounts)`));
  const health = opts.gatewayUrl.replace(/\/graphql$/, '');
  const lines = [
    '',
    `Gateway:   ${opts.gatewayUrl}   (health ${health}/healthz, readiness ${health}/readyz)`,
    `Subgraphs: ${opts.subgraphs.join(', ')}`,
    `Database:  ${database}; ${tenants.join(', ')}`,
    `Logs:      ${opts.logFile} (console: warnings and errors; LOG_LEVEL=debug for more)`,
    defaultConsoleDir() ? `Console:   ${health}/ops/   (ops console: paste a token with sync:read)` : 'Console:   not built (npm run build:console, then restart)',
    ...opts.extra,
    '',
  ];
  if (!opts.token) {
    lines.push('Production mode: no demo token is printed. Use tokens from your identity provider (JWT_JWKS_URL), or mint one', 'with `npm run -s token` where JWT_SECRET is set.', '');
    return `${lines.join('\n')}\n`;
  }
  lines.push(
    'Token for tenant "acme" (12 h, every scope but admin):',
    `export TOKEN=${opts.token}`,
    '',
    `curl -s ${opts.gatewayUrl} -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" \\`,
    `  -d '{"query":"{ accounts(first: 2) { nodes { name balance { amountMinor currency } subscriptions { status } } } }"}'`,
    '',
  );
  return `${lines.join('\n')}\n`;
}

runMain(main);
