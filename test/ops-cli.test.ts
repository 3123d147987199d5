import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type Finished, TSX, run, startProcess } from './support/child';
import { TEST_POSTGRES_URL } from './support/services';

const JWT = /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/;
/** Every command the README tells a reader to run with options (npm scripts and `npx tsx` files). */
const CLIS = [
  'scripts/token.ts', 'scripts/seed.ts', 'scripts/compose.ts', 'scripts/scopes.ts', 'scripts/partner-operations.ts', 'scripts/start.ts', 'scripts/serve.ts',
  'bench/cache.ts', 'bench/gateways.ts', 'bench/subscriptions.ts', 'bench/sync.ts', 'bench/fairness.ts', 'bench/refusals.ts', 'bench/processes.ts',
  'bench/partner-webhooks.ts', 'bench/stripe-initial-sync.ts', 'bench/ws-document-memory.ts', 'bench/shaping.ts', 'bench/hubspot-initial-sync.ts', 'bench/hot-hashing.ts',
  'fakes/stripe/main.ts',
];

describe('every CLI', () => {
  it('answers --help with its usage and options, and refuses an unknown option pointing at --help', async () => {
    // Four at a time: each is a tsx process loading much of the product, on a machine that runs other tests too.
    const helps: Finished[] = [];
    for (let i = 0; i < CLIS.length; i += 4) helps.push(...(await Promise.all(CLIS.slice(i, i + 4).map((cli) => run(TSX, [cli, '--help'])))));
    helps.forEach((help, i) => {
      expect({ cli: CLIS[i], code: help.code, usage: help.stdout.startsWith('Usage: ') }).toEqual({ cli: CLIS[i], code: 0, usage: true });
      expect(help.stdout).toContain('--help');
    });
    expect(helps[0]?.stdout).toContain('--tenant <id>');
    expect(helps[0]?.stdout).toContain('npm run -s token');
    const wrong = await run(TSX, ['scripts/token.ts', '--bogus']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("Unknown option '--bogus'. Run with --help for the options.");
  }, 300_000);
});

describe('npm run seed', () => {
  const name = `t_seed_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const url = Object.assign(new URL(TEST_POSTGRES_URL), { pathname: `/${name}` }).toString();
  const seed = (...args: string[]) => run(TSX, ['scripts/seed.ts', '--tenants', 'acme', ...args], { env: { ...process.env, DATABASE_URL: url } });

  afterAll(async () => {
    const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });

  it('names a missing database and how to create it, creates it on request, then says what each run did', async () => {
    const missing = await seed('--accounts', '2');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`Database "${name}" does not exist`);
    expect(missing.stderr).toContain(`createdb -h 127.0.0.1 -p 5432 -U postgres ${name}`);
    expect(missing.stderr).not.toContain('not reachable');

    const created = await seed('--accounts', '2', '--create-database');
    expect(created.stdout).toContain(`created database ${name}`);
    expect(created.stdout).toContain('acme: seeded 2 accounts');
    expect(created.code).toBe(0);

    const same = await seed('--accounts', '2');
    expect(same.stdout).toContain('acme: already seeded with 2 accounts; nothing to do');
    expect(same.code).toBe(0);

    const more = await seed('--accounts', '3');
    expect(more.stdout).toContain('acme: already seeded with 2 accounts; refused to top up to 3');
    expect(more.code).toBe(1);

    const db = new pg.Client({ connectionString: url });
    await db.connect();
    const { rows } = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM crm.accounts WHERE tenant_id = 'acme'");
    await db.end();
    expect(rows[0]?.n).toBe('2');
  }, 300_000);
});

describe('npm start', () => {
  const env = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => {
    const base: NodeJS.ProcessEnv = { ...process.env, SEED_ACCOUNTS: '1', GATEWAY_PORT: '0', CRM_PORT: '0', ERP_PORT: '0', BILLING_PORT: '0', SYNC_PORT: '0' };
    for (const key of ['LOG_LEVEL', 'DATABASE_URL', 'REDIS_URL', 'PGLITE_DATA_DIR', 'JWT_SECRET', 'GATEWAY_SIGNING_SECRET', 'NODE_ENV']) delete base[key];
    return { ...base, ...extra };
  };

  it('in development: a quiet console, the banner last with an export TOKEN line that works; in production: no token at all', async () => {
    const dev = startProcess(TSX, ['scripts/start.ts'], { env: env({ NODE_ENV: 'development', START_LOG_FILE: join(tmpdir(), `ops-start-dev-${process.pid}.log`) }) });
    const prod = startProcess(TSX, ['scripts/start.ts'], {
      env: env({ NODE_ENV: 'production', JWT_SECRET: 'a-production-jwt-secret-of-enough-length-0123', GATEWAY_SIGNING_SECRET: 'a-production-signing-secret-of-enough-length', START_LOG_FILE: join(tmpdir(), `ops-start-prod-${process.pid}.log`) }),
    });
    try {
      const devOut = await dev.waitFor(/-d '\{"query".*\n\n$/, 240_000);
      const prodOut = await prod.waitFor(/Production mode: no demo token[^]*\n\n$/, 240_000);

      // Banner last, and nothing before it but the banner: no JSON log lines at the default level.
      expect(devOut).not.toContain('"level"');
      expect(devOut.trimStart().startsWith('Gateway:')).toBe(true);
      const token = /^export TOKEN=(\S+)$/m.exec(devOut)?.[1];
      expect(token).toMatch(JWT);
      const gateway = /^Gateway:\s+(\S+)/m.exec(devOut)?.[1] ?? '';
      const res = await fetch(gateway, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: '{ accounts(first: 1) { nodes { name } } }' }) });
      expect(res.status).toBe(200);
      // What the README says to do: paste the export line, then the curl, into a shell (a clean one: no token of ours).
      const pasted = devOut.slice(devOut.indexOf('export TOKEN='));
      expect(pasted).toContain(`curl -s ${gateway} `);
      const shell = await run('bash', ['-euo', 'pipefail', '-c', pasted], { env: { PATH: process.env['PATH'], HOME: process.env['HOME'] } });
      expect({ code: shell.code, stderr: shell.stderr }).toEqual({ code: 0, stderr: '' });
      expect(shell.stdout).toMatch(/^\{"data":\{"accounts":\{"nodes":\[\{"name":/);
      expect(shell.stdout).not.toContain('"errors"');

      // Issue 11 item 3: a production start prints no token of any kind, on either stream.
      expect(prodOut).not.toMatch(JWT);
      expect(prod.output().stderr).not.toMatch(JWT);
      expect(prodOut).not.toContain('export TOKEN');
    } finally {
      await Promise.all([dev.stop(), prod.stop()]);
    }
  }, 300_000);
});
