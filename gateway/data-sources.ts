import { STATUS_CODES } from 'node:http';
import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import { GraphQLError } from 'graphql';
import { FORWARDED_CLAIMS_HEADER, type ForwardedRequest, digestOf } from '../lib/auth/forwarded';
import type { Principal } from '../lib/auth/principal';
import { CORRELATION_HEADER } from '../lib/correlation';
import { injectTraceHeaders } from '../lib/telemetry/tracing';
import type { GatewayContext } from './context';
import type { SubgraphHttp, SubgraphResponse } from './subgraph-fetcher';
import { unavailableAsFieldErrors } from './subgraph-unavailable';

export interface DataSourceOptions {
  http: SubgraphHttp;
  signClaims: (principal: Principal, request: ForwardedRequest, digest: string) => Promise<string>;
}

/** JSON texts of the plan's subgraph operations: the same few strings, escaped once each instead of twice per fetch. */
const queryTexts = new Map<string, string>();
const MAX_QUERY_TEXTS = 5000;
function queryJson(query: string): string {
  let json = queryTexts.get(query);
  if (json === undefined) {
    if (queryTexts.size >= MAX_QUERY_TEXTS) queryTexts.clear();
    json = JSON.stringify(query);
    queryTexts.set(query, json);
  }
  return json;
}

const headerOf = (res: SubgraphResponse, name: string): string | undefined => {
  const value = res.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
};

/** RemoteGraphQLDataSource's error for a non-2xx answer, which subgraph-unavailable.ts reads (`extensions.response`). */
function httpError(url: string, res: SubgraphResponse, body: unknown): GraphQLError {
  const statusText = STATUS_CODES[res.status] ?? '';
  const code = res.status === 401 ? 'UNAUTHENTICATED' : res.status === 403 ? 'FORBIDDEN' : undefined;
  return new GraphQLError(`${res.status}: ${statusText}`, { extensions: { response: { url, status: res.status, statusText, body }, ...(code ? { code } : {}) } });
}

const isJson = (res: SubgraphResponse) => {
  const type = headerOf(res, 'content-type');
  return type !== undefined && (type.startsWith('application/json') || type.startsWith('application/graphql-response+json'));
};

/** The subgraph's Cache-Control narrows the operation's cache policy, as RemoteGraphQLDataSource does by default. */
function restrictCachePolicy(options: GraphQLDataSourceProcessOptions<GatewayContext>, res: SubgraphResponse): void {
  if (options.kind !== 'incoming operation') return;
  const policy: unknown = options.incomingRequestContext.overallCachePolicy;
  if (typeof policy !== 'object' || policy === null || !('restrict' in policy) || typeof policy.restrict !== 'function') return;
  const hint: { maxAge: number; scope?: 'PRIVATE' | 'PUBLIC' } = { maxAge: 0 };
  for (const part of (headerOf(res, 'cache-control') ?? '').trim().split(/\s*,\s*/)) {
    const [k, v] = part.split(/\s*=\s*/, 2);
    const value = v?.replace(/^"|"$/g, '');
    if (k === 'max-age' && value !== undefined && /^[0-9]+$/.test(value)) hint.maxAge = Number(value);
    else if (k === 'private' && v === undefined) hint.scope = 'PRIVATE';
    else if (k === 'public' && v === undefined) hint.scope = 'PUBLIC';
  }
  policy.restrict(hint);
}

/**
 * One data source per subgraph, in place of @apollo/gateway's RemoteGraphQLDataSource (same wire, same errors, same
 * cache-policy narrowing): forwards the claims, signed for this very request, and the correlation id on every fetch;
 * a subgraph that cannot be reached nulls its own fields only (SUBGRAPH_UNAVAILABLE).
 *
 * Why not RemoteGraphQLDataSource: per fetch it built node-fetch `Headers` and a node-fetch `Request` it never sent,
 * and serialized the variables twice (once for the body, once for the claims digest): ~10 % of the gateway's CPU on a
 * nested query. Here the body and the digest's text are assembled from one serialization of each piece.
 */
export function subgraphDataSource(name: string, url: string, opts: DataSourceOptions): GraphQLDataSource<GatewayContext> {
  const remote: GraphQLDataSource<GatewayContext> = {
    async process(options): Promise<GatewayGraphQLResponse> {
      const { request, context } = options;
      if (!request.query) throw new Error('Missing query');
      const q = queryJson(request.query);
      const v = request.variables === undefined ? undefined : JSON.stringify(request.variables);
      const o = request.operationName === undefined ? undefined : JSON.stringify(request.operationName);
      const e = request.extensions === undefined ? undefined : JSON.stringify(request.extensions);
      // JSON.stringify({ query, variables, operationName, extensions }) and JSON.stringify([query, operationName ?? null, variables ?? null]).
      const body = `{"query":${q}${v === undefined ? '' : `,"variables":${v}`}${o === undefined ? '' : `,"operationName":${o}`}${e === undefined ? '' : `,"extensions":${e}`}}`;
      const headers: Record<string, string> = {};
      for (const [key, value] of request.http?.headers ?? []) headers[key.toLowerCase()] = value;
      headers['content-type'] = 'application/json';
      // The gateway also calls subgraphs without a request context (schema health checks); those carry no claims.
      if (context?.principal) {
        const digest = digestOf(`[${q},${o ?? 'null'},${v ?? 'null'}]`);
        headers[FORWARDED_CLAIMS_HEADER] = await opts.signClaims(context.principal, request, digest);
        headers[CORRELATION_HEADER] = context.correlationId;
        // W3C traceparent of the gateway.fetch span: the subgraph's spans join the request's trace.
        injectTraceHeaders((key, value) => (headers[key] = value));
      }
      const res = await opts.http.send(url, { headers, body });
      const parsed: unknown = isJson(res) ? JSON.parse(res.body) : res.body;
      if (res.status < 200 || res.status > 299) throw httpError(url, res, parsed);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`Expected JSON response body, but received: ${String(parsed)}`);
      restrictCachePolicy(options, res);
      return parsed as GatewayGraphQLResponse;
    },
  };
  return unavailableAsFieldErrors(name, remote);
}
