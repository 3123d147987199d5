import type { IncomingMessage } from 'node:http';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { parse } from 'graphql';
import { FORWARDED_CLAIMS_HEADER, claimsVerifier } from '../../lib/auth/forwarded';
import { POLICY } from '../../lib/auth/policy';
import type { Principal } from '../../lib/auth/principal';
import { CORRELATION_HEADER, correlationIdFrom } from '../../lib/correlation';
import type { Db } from '../../lib/db/db';
import { errorFormatter } from '../../lib/format-error';
import { type RunningServer, graphqlHttpHandler, listen } from '../../lib/http/server';
import type { Logger } from '../../lib/logger';
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
}

export interface SubgraphOptions {
  db: Db;
  host: string;
  port: number;
  internalSecret: string;
  production: boolean;
  logger: Logger;
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
    formatError: errorFormatter(opts.production),
    includeStacktraceInErrorResponses: !opts.production,
    introspection: !opts.production,
  });
  await apollo.start();
  const verify = claimsVerifier(opts.internalSecret);
  const logger = opts.logger.child({ subgraph: def.name });
  const context = async (req: IncomingMessage): Promise<C> => {
    const principal = await verify(header(req, FORWARDED_CLAIMS_HEADER));
    const correlationId = correlationIdFrom(req.headers[CORRELATION_HEADER]);
    return def.context({ principal, tenant: principal.tenant, correlationId, logger: logger.child({ correlationId }) }, opts.db);
  };
  const ready = async () => (await opts.db.query('SELECT 1 AS ok')).length === 1;
  return listen(tracedHttp(def.name, graphqlHttpHandler({ apollo, context, ready })), opts.host, opts.port, { afterClose: () => apollo.stop() });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
