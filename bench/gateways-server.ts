/**
 * One gateway under test for bench/gateways.ts, in its own process (the parent pins it with taskset):
 *
 * - `ours`:       gateway/server.ts startGateway as deployed: bearer JWT auth, gateway-signed claims, cost-based rate
 *                 limiting on Redis (limits raised by RATE_LIMITS), RESPONSE_CACHE from the environment (off).
 * - `ours-cache`: the same with RESPONSE_CACHE=on (Redis response cache); the parent sets the environment.
 * - `stock`:      @apollo/gateway + @apollo/server with default settings (stock fetcher, standalone server).
 * - `hive`:       Hive Gateway (`createGatewayRuntime` from @graphql-hive/gateway) served with node:http, defaults:
 *                 identical subgraph requests in flight at the same time are sent once (deduplicateInflightRequests).
 * - `hive-nodedup`: the same with deduplicateInflightRequests off, so every client request reaches the subgraphs.
 * - `hive-router`, `hive-router-nodedup`: the same two with `unifiedGraphHandler` of @graphql-hive/router-runtime:
 *                 Hive Router's Rust query planner (a prebuilt native addon) and its executor instead of the stitching runtime.
 * - `passthrough`: no gateway: node:http forwards each body to billing with undici `request` (keep-alive) and the
 *                 claims signed for that body, and returns the answer as is: the least any Node hop can add (overhead only).
 *
 * The stock gateways cannot sign our `x-gateway-claims` header, so they send one for the principal of the client's
 * bearer token (verified with our tokenVerifier, cached per token, then signed with lib/auth/forwarded.ts claimsSigner
 * and the config's internal secret for each request body, as the claims are bound to it) on every subgraph request:
 * the mix's hundreds of principals reach the subgraphs as themselves through every gateway.
 *
 * Environment: BENCH_GATEWAY_KIND, BENCH_SUBGRAPH_URLS (JSON), BENCH_TOKEN (the pass-through's principal), and
 * lib/config.ts settings.
 * Prints `{"gatewaysBenchReady":{pid, url, kind, startMs}}`; stops when stdin closes. Each kind imports only its
 * own gateway's modules (dynamic imports), so a process's peak RSS counts no other gateway's code.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FORWARDED_CLAIMS_HEADER } from '../lib/auth/forwarded';
import { loadConfig } from '../lib/config';
import { SUBGRAPH_NAMES, readSupergraph } from '../lib/schema';
import { SERVER_KINDS, type ServerKind, type SubgraphUrls, benchClaimsSigner, subgraphUrls } from './gateways-common';
import { announceReady, stopWhenStdinEnds, withoutNewSignalHandlers } from './host';
import { startTracingFromEnv } from '../lib/telemetry/tracing';

interface Started {
  url: string;
  stop: () => Promise<void>;
}

async function startOurs(urls: SubgraphUrls): Promise<Started> {
  const [{ startGateway }, { createLogger }, { createRedis, redisReady }] = await Promise.all([
    import('../gateway/server.js'), import('../lib/logger.js'), import('../lib/redis.js'),
  ]);
  const config = loadConfig(process.env);
  // Tracing as gateway/main.ts does it: on only when OTEL_* asks (the tracing on/off comparison in GATEWAYS.md).
  startTracingFromEnv('bench-gateway');
  const logger = createLogger(config.logLevel, 'bench-gateway');
  const redis = config.redisUrl ? createRedis(config.redisUrl, config.redisKeyPrefix) : undefined;
  if (redis && !(await redisReady(redis))) throw new Error(`Redis is not reachable at ${config.redisUrl ?? ''}`);
  const running = await startGateway({ config, logger, redis, subgraphUrls: urls, port: 0 });
  return {
    url: running.url,
    stop: async () => {
      await running.close(1000);
      redis?.disconnect();
    },
  };
}

/** Signs the claims of the client's principal for each subgraph request body, for gateways that cannot sign them. */
function benchClaims(): (authorization: string | undefined, body: unknown) => Promise<string | undefined> {
  const config = loadConfig(process.env);
  return benchClaimsSigner(config.internalSecret, config.jwt);
}

interface StockContext {
  authorization?: string;
}

async function startStock(urls: SubgraphUrls): Promise<Started> {
  const [{ ApolloGateway, RemoteGraphQLDataSource }, { ApolloServer }, { startStandaloneServer }] = await Promise.all([
    import('@apollo/gateway'), import('@apollo/server'), import('@apollo/server/standalone'),
  ]);
  const claims = benchClaims();
  const gateway = new ApolloGateway({
    supergraphSdl: readSupergraph(),
    buildService: ({ name }) => {
      const url = (urls as Record<string, string>)[name];
      if (!url) throw new Error(`No URL for subgraph "${name}"`);
      return new RemoteGraphQLDataSource<StockContext>({
        url,
        async willSendRequest({ request, context }) {
          const header = await claims(context.authorization, { query: request.query, operationName: request.operationName, variables: request.variables });
          if (header) request.http?.headers.set(FORWARDED_CLAIMS_HEADER, header);
        },
      });
    },
  });
  const server = new ApolloServer<StockContext>({ gateway });
  const { url } = await startStandaloneServer(server, {
    listen: { host: '127.0.0.1', port: 0 },
    context: async ({ req }) => ({ authorization: req.headers.authorization }),
  });
  return {
    url: new URL('/graphql', url).toString(),
    stop: async () => {
      await server.stop();
    },
  };
}

/**
 * The part of @graphql-hive/gateway used here, typed locally: its typings pull in graphql-yoga's augmentation of
 * GraphQLErrorExtensions (`http.headers` as a record), which conflicts with Apollo Server's (`http.headers` as a Map)
 * and breaks the typecheck of gateway/rate-limit.ts once any file of the project imports the package's types.
 */
interface HiveRuntime {
  (req: IncomingMessage, res: ServerResponse): void;
  dispose(): Promise<void> | void;
}
interface HiveConfig {
  supergraph: string;
  /** @graphql-hive/router-runtime's handler: the Rust query planner instead of the stitching runtime. */
  unifiedGraphHandler?: unknown;
  transportEntries: Record<string, { location: string; options?: { deduplicateInflightRequests?: boolean } }>;
  /** Hive's onFetch hook: the one place that sees each subgraph request's body, which the claims are bound to. */
  plugins: () => { onFetch(payload: { context?: HiveContext; options: HiveFetchOptions; setOptions(options: HiveFetchOptions): void }): Promise<void> }[];
  logging: 'debug' | 'info' | 'warn' | 'error' | boolean;
}
/** The client request in Hive's context (a WHATWG Request). */
interface HiveContext {
  request?: { headers?: { get(name: string): string | null } };
}
interface HiveFetchOptions {
  body?: unknown;
  headers?: Record<string, string>;
}
interface HiveModule {
  createGatewayRuntime(config: HiveConfig): HiveRuntime;
}

function loadHive(): HiveModule {
  // A plain require: TypeScript does not read the package's typings for it (see HiveModule).
  const mod: unknown = require('@graphql-hive/gateway');
  const isHive = (m: unknown): m is HiveModule =>
    typeof m === 'object' && m !== null && 'createGatewayRuntime' in m && typeof m.createGatewayRuntime === 'function';
  if (!isHive(mod)) throw new Error('@graphql-hive/gateway does not export createGatewayRuntime');
  return mod;
}

/** The Rust query planner's handler, checked to load (its native addon) before the gateway starts. */
function loadRouterRuntime(): unknown {
  const mod: unknown = require('@graphql-hive/router-runtime');
  const handler = typeof mod === 'object' && mod !== null && 'unifiedGraphHandler' in mod ? mod.unifiedGraphHandler : undefined;
  if (typeof handler !== 'function') throw new Error('@graphql-hive/router-runtime does not export unifiedGraphHandler');
  return handler;
}

async function startHive(urls: SubgraphUrls, deduplicate: boolean, rustPlanner: boolean): Promise<Started> {
  const { createGatewayRuntime } = loadHive();
  const claims = benchClaims();
  const gateway = createGatewayRuntime({
    supergraph: readSupergraph(),
    ...(rustPlanner ? { unifiedGraphHandler: loadRouterRuntime() } : {}),
    // The supergraph names placeholder URLs (http://crm.invalid/graphql); point each subgraph at its server.
    transportEntries: Object.fromEntries(
      SUBGRAPH_NAMES.map((name) => [name, { location: urls[name], ...(deduplicate ? {} : { options: { deduplicateInflightRequests: false } }) }]),
    ),
    plugins: () => [
      {
        async onFetch({ context, options, setOptions }) {
          const header = await claims(context?.request?.headers?.get('authorization') ?? undefined, options.body);
          if (header) setOptions({ ...options, headers: { ...options.headers, [FORWARDED_CLAIMS_HEADER]: header } });
        },
      },
    ],
    logging: 'warn',
  });
  return serveOnLocalPort(createServer(gateway), async () => {
    await gateway.dispose();
  });
}

/** Listens on an ephemeral local port; `stop` closes every connection, then runs `dispose`. */
async function serveOnLocalPort(server: Server, dispose: () => Promise<void>): Promise<Started> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await dispose();
    },
  };
}

async function startPassthrough(target: string): Promise<Started> {
  const { Agent, request } = await import('undici');
  const claims = benchClaims();
  const authorization = `Bearer ${process.env['BENCH_TOKEN'] ?? ''}`;
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 64 });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      claims(authorization, body)
        .then((signed) => request(target, { method: 'POST', headers: { 'content-type': 'application/json', [FORWARDED_CLAIMS_HEADER]: signed ?? '' }, body, dispatcher: agent }))
        .then(async (upstream) => {
          const body = await upstream.body.text();
          res.writeHead(upstream.statusCode, { 'content-type': 'application/json' });
          res.end(body);
        })
        .catch(() => {
          res.writeHead(502);
          res.end();
        });
    });
  });
  return serveOnLocalPort(server, async () => {
    await agent.close();
  });
}

async function main(): Promise<void> {
  const started = Date.now();
  const kind = SERVER_KINDS.find((k) => k === process.env['BENCH_GATEWAY_KIND']);
  if (!kind) throw new Error(`BENCH_GATEWAY_KIND must be one of ${SERVER_KINDS.join(', ')}`);
  const urls = subgraphUrls.parse(JSON.parse(process.env['BENCH_SUBGRAPH_URLS'] ?? '{}'));
  const gateway = await withoutNewSignalHandlers(() => {
    switch (kind) {
      case 'ours':
      case 'ours-cache':
        return startOurs(urls);
      case 'stock':
        return startStock(urls);
      case 'hive':
        return startHive(urls, true, false);
      case 'hive-nodedup':
        return startHive(urls, false, false);
      case 'hive-router':
        return startHive(urls, true, true);
      case 'hive-router-nodedup':
        return startHive(urls, false, true);
      case 'passthrough':
        return startPassthrough(urls.billing);
    }
  });
  stopWhenStdinEnds(gateway.stop);
  announceReady({ pid: process.pid, url: gateway.url, kind, startMs: Date.now() - started });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/gateways-server.ts: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
