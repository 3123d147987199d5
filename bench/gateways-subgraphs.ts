/**
 * The four subgraphs (crm, erp, billing, sync) of bench/gateways.ts in one process, as scripts/stack.ts starts them
 * but without a gateway or a sync worker: migrates and seeds the database at DATABASE_URL (BENCH_ACCOUNTS accounts
 * for each of acme and globex), starts every subgraph on an ephemeral port with the production settings and the
 * GATEWAY_SIGNING_SECRET of the run, prints `{"gatewaysBenchReady":{pid, urls, seedMs}}` and stops when stdin closes.
 *
 * With BENCH_MEMO_SUBGRAPHS=on (the harness's default) each subgraph is fronted by a memo: the first read with a
 * given body for a given kind of caller (tenant, token kind and scopes, read from the claims header's payload; the
 * header itself is re-signed every few seconds and differs per principal) goes to the real subgraph, identical ones
 * later get its answer from memory. Writes (`mutation`) always go to the real subgraph. The single-query load sends
 * the same query over and over, and the mix draws from a finite set of operations and variables, so the subgraphs
 * then cost little and the gateway under test is the bottleneck, as the gateway comparison needs; the answers are
 * still the real subgraphs' (and checked by the harness). `GET /__memo` on any front answers `{hits, misses, writes}`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { loadConfig } from '../lib/config';
import { openDatabase } from '../lib/db/open';
import { createLogger } from '../lib/logger';
import { SUBGRAPH_NAMES, type SubgraphName } from '../lib/schema';
import { connectionsFromConfig, migrateAll, partnerWebhooksFromConfig, seedTenant, subgraphDefinitions } from '../subgraphs/registry';
import { type RunningServer } from '../lib/http/server';
import { startSubgraph } from '../subgraphs/runtime/server';
import { FaultInjector } from '../subgraphs/sync/engine/faults';
import { referenceSystems } from '../subgraphs/sync/engine/systems';
import { BENCH_TENANTS } from './gateways-common';
import { announceReady, stopWhenStdinEnds, withoutNewSignalHandlers } from './host';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  if (!config.databaseUrl) throw new Error('DATABASE_URL is required (a scratch Postgres database)');
  const accounts = Number(process.env['BENCH_ACCOUNTS'] ?? '50');
  const logger = createLogger(config.logLevel, 'bench-subgraphs');
  const db = await openDatabase(config);
  const started = Date.now();
  await migrateAll(db);
  for (const tenant of BENCH_TENANTS) await db.transaction((tx) => seedTenant(tx, tenant, accounts));
  const seedMs = Date.now() - started;

  // No in-process sync worker: nothing in the benchmark writes, and a worker would compete for the CPU.
  const definitions = subgraphDefinitions({ systems: referenceSystems(db, new FaultInjector()), wake: () => undefined, connections: connectionsFromConfig(db, config, logger), partnerWebhooks: partnerWebhooksFromConfig(db, config) });
  const servers: Partial<Record<SubgraphName, RunningServer>> = {};
  await withoutNewSignalHandlers(async () => {
    for (const name of SUBGRAPH_NAMES) {
      servers[name] = await startSubgraph(definitions[name], {
        db, host: '127.0.0.1', port: 0, internalSecret: config.internalSecret, production: config.production, logger,
      });
    }
  });
  const memo = process.env['BENCH_MEMO_SUBGRAPHS'] === 'on' ? memoFronts() : null;
  const urls: Partial<Record<SubgraphName, string>> = {};
  for (const name of SUBGRAPH_NAMES) {
    const real = servers[name]?.url;
    if (!real) throw new Error(`subgraph ${name} did not start`);
    urls[name] = memo ? await memo.front(real) : real;
  }
  const urlOf = (name: SubgraphName): string => urls[name] ?? '';
  stopWhenStdinEnds(async () => {
    await memo?.close();
    await Promise.all(Object.values(servers).map((s) => s.close(1000)));
    await db.close();
  });
  announceReady({ pid: process.pid, seedMs, urls: { crm: urlOf('crm'), erp: urlOf('erp'), billing: urlOf('billing'), sync: urlOf('sync') } });
}

/** Who the claims header speaks for, as far as a subgraph's answer can depend on it: tenant, kind and scopes. */
function callerClass(header: string): string {
  try {
    const payload = JSON.parse(Buffer.from(header.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    return `${String(payload['tenant'])}|${String(payload['kind'])}|${String(payload['scope'])}`;
  } catch {
    return header;
  }
}

const isWrite = (body: string) => /"query":"\s*mutation\b/.test(body);

type Answer = { status: number; headers: Record<string, string>; body: string };

/** Memoizing HTTP fronts for the subgraphs (see the header). Only 200 answers are kept, with their headers (the
 * gateways read the subgraphs' cache hints from `cache-control`). */
function memoFronts(): { front: (target: string) => Promise<string>; close: () => Promise<void> } {
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 64 });
  const closers: (() => Promise<void>)[] = [];
  const stats = { hits: 0, misses: 0, writes: 0 };
  const front = async (target: string): Promise<string> => {
    const answers = new Map<string, Promise<Answer>>();
    const forward = (claims: string, body: string): Promise<Answer> =>
      request(target, { method: 'POST', headers: { 'content-type': 'application/json', 'x-gateway-claims': claims }, body, dispatcher: agent }).then(async (r) => ({
        status: r.statusCode,
        headers: Object.fromEntries(['content-type', 'cache-control'].flatMap((h) => (typeof r.headers[h] === 'string' ? [[h, r.headers[h]]] : []))),
        body: await r.body.text(),
      }));
    const server = createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/__memo') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(stats));
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const claims = String(req.headers['x-gateway-claims'] ?? '');
        let answer: Promise<Answer> | undefined;
        if (isWrite(body)) {
          stats.writes += 1;
          answer = forward(claims, body);
        } else {
          const key = `${callerClass(claims)}\n${body}`;
          answer = answers.get(key);
          if (answer) stats.hits += 1;
          else {
            stats.misses += 1;
            const fresh = forward(claims, body);
            answers.set(key, fresh);
            fresh.then((a) => a.status !== 200 && answers.delete(key), () => answers.delete(key));
            answer = fresh;
          }
        }
        answer.then(
          (a) => {
            res.writeHead(a.status, a.headers);
            res.end(a.body);
          },
          () => {
            res.writeHead(502);
            res.end();
          },
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  };
  return {
    front,
    close: async () => {
      await Promise.all(closers.map((c) => c()));
      await agent.close();
    },
  };
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/gateways-subgraphs.ts: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
