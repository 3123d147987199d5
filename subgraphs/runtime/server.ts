import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { parse } from 'graphql';
import { FORWARDED_CLAIMS_HEADER, type ForwardedRequest, claimsVerifier } from '../../lib/auth/forwarded';
import { POLICY } from '../../lib/auth/policy';
import type { Principal } from '../../lib/auth/principal';
import { CORRELATION_HEADER, correlationIdFrom } from '../../lib/correlation';
import type { Db } from '../../lib/db/db';
import { errorFormatter } from '../../lib/format-error';
import { type RunningServer, graphqlHttpHandler, listen } from '../../lib/http/server';
import type { Logger } from '../../lib/logger';
import type { Redis } from '../../lib/redis';
import { localReplayGuard, sharedReplayGuard } from '../../lib/auth/replay-guard';
import { type SubgraphName, subgraphSdl } from '../../lib/schema';
import { authorize } from './authorization';
import { tracedHttp } from '../../lib/telemetry/http';
import { tracedResolvers } from '../../lib/telemetry/resolvers';

/** What every subgraph's context starts from: the caller as signed by the gateway, and the request's ids. */
export interface RequestBase {
  principal: Principal;
  tenant: string;
  correlationId: string;
  logger: Logger;
}

export interface SubgraphDefinition<C extends RequestBase> {
  name: SubgraphName;
  resolvers: object;
  /** Per-request context: loaders and the tenant-scoped store are created here, never shared across requests. */
  context: (base: RequestBase, db: Db) => C;
  /** Routes other than GraphQL (vendor webhooks): resolves true when it answered the request. */
  routes?: (db: Db, logger: Logger) => (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
}

export interface SubgraphOptions {
  db: Db;
  host: string;
  port: number;
  internalSecret: string;
  production: boolean;
  logger: Logger;
  /** Shares the used ids of single-use (write) claim headers with the other instances; per instance without it. */
  redis?: Redis;
}

/** Starts one subgraph: Federation 2 schema, gateway-signature check, health endpoints. */
export async function startSubgraph<C extends RequestBase>(def: SubgraphDefinition<C>, opts: SubgraphOptions): Promise<RunningServer> {
  const schema = authorize(
    buildSubgraphSchema({ typeDefs: parse(subgraphSdl(def.name)), resolvers: tracedResolvers(def.name, def.resolvers) as GraphQLResolverMap<unknown> }),
    POLICY[def.name],
  );
  const apollo = new ApolloServer<C>({
    schema,
    logger: opts.logger,
    // The composition root owns shutdown (drain HTTP, stop workers, close pools); Apollo must not exit on signals.
    stopOnTerminationSignals: false,
    // Subgraphs are never browsed and never traced inline (ftv1 costs the gateway time on every request).
    plugins: [ApolloServerPluginInlineTraceDisabled(), ApolloServerPluginLandingPageDisabled()],
    // Stack traces go to the gateway in development (only it decides, by DEBUG_ERRORS, whether a client sees them);
    // masked production errors are logged here, where the stack is.
    formatError: errorFormatter({
      production: opts.production,
      debug: true,
      onMasked: ({ stack, ...masked }) => opts.logger.error({ subgraph: def.name, ...masked, err: { message: masked.message, stack } }, 'masked error'),
    }),
    includeStacktraceInErrorResponses: !opts.production,
    introspection: !opts.production,
  });
  await apollo.start();
  const verify = claimsVerifier(opts.internalSecret, opts.redis ? sharedReplayGuard(opts.redis, { logger: opts.logger }) : localReplayGuard());
  const logger = opts.logger.child({ subgraph: def.name });
  const context = async (req: IncomingMessage, body: unknown): Promise<C> => {
    const principal = await verify(header(req, FORWARDED_CLAIMS_HEADER), forwardedRequest(req, body));
    const correlationId = correlationIdFrom(req.headers[CORRELATION_HEADER]);
    return def.context({ principal, tenant: principal.tenant, correlationId, logger: logger.child({ correlationId }) }, opts.db);
  };
  const ready = async () => (await opts.db.query('SELECT 1 AS ok')).length === 1;
  const graphql = tracedHttp(def.name, graphqlHttpHandler({ apollo, context, ready }));
  const routes = def.routes?.(opts.db, logger);
  const handler = routes ? async (req: IncomingMessage, res: ServerResponse) => ((await routes(req, res)) ? undefined : graphql(req, res)) : graphql;
  return listen(handler, opts.host, opts.port, { afterClose: () => apollo.stop() });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** What the request asks to execute, from the JSON body, or from the query string of a GET. */
function forwardedRequest(req: IncomingMessage, body: unknown): ForwardedRequest {
  if (typeof body === 'object' && body !== null) return body as ForwardedRequest;
  const params = new URL(req.url ?? '/', 'http://subgraph').searchParams;
  let variables: unknown = params.get('variables') ?? undefined;
  try {
    if (typeof variables === 'string') variables = JSON.parse(variables) as unknown;
  } catch {
    // Left as text: it cannot match the gateway's digest, so the request is refused as unsigned.
  }
  return { query: params.get('query') ?? undefined, operationName: params.get('operationName') ?? undefined, variables };
}
