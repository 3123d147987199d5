import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { GraphQLError } from 'graphql';
import { FORWARDED_CLAIMS_HEADER, claimsSigner, claimsVerifier } from '../lib/auth/forwarded';
import type { Principal } from '../lib/auth/principal';
import { CORRELATION_HEADER } from '../lib/correlation';
import type { GatewayContext } from '../gateway/context';
import { subgraphDataSource } from '../gateway/data-sources';
import { type SubgraphHttp, keepAliveHttp } from '../gateway/subgraph-fetcher';

/**
 * gateway/data-sources.ts replaces @apollo/gateway's RemoteGraphQLDataSource: the same body on the wire, claims whose
 * digest covers exactly what the subgraph parses, RemoteGraphQLDataSource's errors for non-2xx answers (which
 * SUBGRAPH_UNAVAILABLE relies on) and its narrowing of the operation's cache policy by the subgraph's Cache-Control.
 * Against a real HTTP server standing in for a subgraph.
 */
const SECRET = 'subgraph-data-source-test-secret-0123456789';
const principal: Principal = { sub: 'u1', tenant: 'acme', kind: 'user', scopes: new Set(['billing:read']), exp: Math.floor(Date.now() / 1000) + 3600 };

interface Seen {
  headers: IncomingHttpHeaders;
  body: string;
}
let answer: { status: number; headers: Record<string, string>; body: string } = { status: 200, headers: {}, body: '{}' };
const seen: Seen[] = [];
let server: Server;
let url: string;
let http: SubgraphHttp;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers }).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  http = keepAliveHttp({ dedup: true });
});

afterAll(async () => {
  await http.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const restricted: { maxAge: number; scope?: string }[] = [];
function options(query: string, variables?: Record<string, unknown>, operationName?: string): GraphQLDataSourceProcessOptions<GatewayContext> {
  const context: GatewayContext = { principal, correlationId: 'corr-1', cacheSplice: {} };
  const incoming = { context, overallCachePolicy: { restrict: (hint: { maxAge: number; scope?: string }) => restricted.push(hint) } };
  // The fields the data source reads of Apollo's request context; the rest of it plays no part here.
  return { kind: 'incoming operation', request: { query, variables, operationName }, context, incomingRequestContext: incoming } as unknown as GraphQLDataSourceProcessOptions<GatewayContext>;
}

const source = () => subgraphDataSource('billing', url, { http, signClaims: claimsSigner(SECRET) });

describe('the gateway data source', () => {
  it('sends the body RemoteGraphQLDataSource sent, with claims the subgraph verifies for exactly that body', async () => {
    answer = { status: 200, headers: { 'cache-control': 'max-age=30, public' }, body: '{"data":{"_entities":[{"id":"a"}]}}' };
    seen.length = 0;
    restricted.length = 0;
    const query = 'query Q($representations: [_Any!]!) { _entities(representations: $representations) { ... on Plan { code } } }';
    const variables = { representations: [{ __typename: 'Plan', id: 'p"1\\\u2028é😀', n: 1.5e-7, nested: { a: [null, true] } }] };
    const res = await source().process(options(query, variables, 'Q'));
    expect(res).toEqual({ data: { _entities: [{ id: 'a' }] } });
    const sent = seen[0];
    if (!sent) throw new Error('the subgraph saw no request');
    expect(sent.body).toBe(JSON.stringify({ query, variables, operationName: 'Q' }));
    expect(sent.headers['content-type']).toBe('application/json');
    expect(sent.headers[CORRELATION_HEADER]).toBe('corr-1');
    const claims = sent.headers[FORWARDED_CLAIMS_HEADER];
    const parsed = JSON.parse(sent.body) as { query: string; variables: unknown; operationName: string };
    const verify = claimsVerifier(SECRET);
    await expect(verify(typeof claims === 'string' ? claims : undefined, parsed)).resolves.toMatchObject({ sub: 'u1', tenant: 'acme' });
    // The header covers this body only.
    await expect(verify(typeof claims === 'string' ? claims : undefined, { ...parsed, variables: { representations: [] } })).rejects.toThrow(/does not cover/);
    expect(restricted).toEqual([{ maxAge: 30, scope: 'PUBLIC' }]);
  });

  it('narrows the cache policy to max-age 0 when the subgraph sends no Cache-Control, and leaves out absent pieces', async () => {
    answer = { status: 200, headers: {}, body: '{"data":{"plans":[]}}' };
    seen.length = 0;
    restricted.length = 0;
    await source().process(options('{ plans { code } }'));
    expect(seen[0]?.body).toBe('{"query":"{ plans { code } }"}');
    expect(restricted).toEqual([{ maxAge: 0 }]);
  });

  it('turns a 502 from a proxy into null fields with SUBGRAPH_UNAVAILABLE, and a 403 into FORBIDDEN with the response', async () => {
    answer = { status: 502, headers: {}, body: '{"message":"bad gateway"}' };
    const down = await source().process(options('{ plans { code } invoices { id } }'));
    expect(down.data).toBeNull();
    expect(down.errors?.map((e) => [e.extensions?.['code'], e.path])).toEqual([['SUBGRAPH_UNAVAILABLE', ['plans']], ['SUBGRAPH_UNAVAILABLE', ['invoices']]]);

    answer = { status: 403, headers: {}, body: '{"errors":[{"message":"no"}]}' };
    const refused = await source().process(options('{ plans { code } }')).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(GraphQLError);
    expect((refused as GraphQLError).message).toBe('403: Forbidden');
    expect((refused as GraphQLError).extensions).toMatchObject({ code: 'FORBIDDEN', response: { status: 403, body: { errors: [{ message: 'no' }] } } });
  });
});
