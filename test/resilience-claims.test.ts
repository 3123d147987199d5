import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { FORWARDED_CLAIMS_HEADER, claimsSigner } from '../lib/auth/forwarded';
import type { RunningServer } from '../lib/http/server';
import { createRedis } from '../lib/redis';
import { connectionsFromConfig, partnerWebhooksFromConfig, subgraphDefinitions } from '../subgraphs/registry';
import { startSubgraph } from '../subgraphs/runtime/server';
import { freePort } from './support/redis-server';
import { createLogger } from '../lib/logger';
import { SUBGRAPH_NAMES, type SubgraphName } from '../lib/schema';
import { startGateway } from '../gateway/server';
import { postGraphQL } from './support/http';
import { type TestStack, startTestStack } from './support/stack';

/**
 * Issue 11, item 10: the claims header the gateway signs for a subgraph request is bound to that request's body (and a
 * write's header is single-use), so a header captured on the wire authorizes nothing else.
 */
describe('gateway-signed claims bound to the request', () => {
  let stack: TestStack;
  let close: () => Promise<void>;
  let gatewayUrl: string;
  /** Every request the gateway sent to CRM, as it went over the wire. */
  const captured: { header: string; body: string }[] = [];

  beforeAll(async () => {
    stack = await startTestStack({ accounts: 2 });
    const crm = stack.subgraphs.crm.url;
    // A recorder between the gateway and CRM: what an attacker on the internal network would see.
    const tap = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const header = req.headers[FORWARDED_CLAIMS_HEADER];
        if (typeof header === 'string') captured.push({ header, body });
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k))) as Record<string, string>;
        request(crm, { method: 'POST', headers, body })
          .then(async (up) => {
            res.writeHead(up.statusCode, { 'content-type': 'application/json' });
            res.end(await up.body.text());
          })
          .catch(() => res.writeHead(502).end());
      });
    });
    await new Promise<void>((resolve) => tap.listen(0, '127.0.0.1', resolve));
    const urls = Object.fromEntries(SUBGRAPH_NAMES.map((n) => [n, stack.subgraphs[n].url])) as Record<SubgraphName, string>;
    urls.crm = `http://127.0.0.1:${(tap.address() as AddressInfo).port}/graphql`;
    const gateway = await startGateway({ config: { ...stack.config, responseCache: false }, logger: createLogger('silent', 'test'), port: 0, subgraphUrls: urls });
    gatewayUrl = gateway.url;
    close = async () => {
      await gateway.close();
      await new Promise<void>((resolve) => tap.close(() => resolve()));
    };
  }, 120_000);

  afterAll(async () => {
    await close?.();
    await stack?.stop();
  });

  const replay = (header: string, body: string, url = stack.subgraphs.crm.url) =>
    request(url, { method: 'POST', headers: { 'content-type': 'application/json', [FORWARDED_CLAIMS_HEADER]: header }, body }).then(async (r) => ({
      status: r.statusCode,
      body: (await r.body.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] },
    }));

  it('a header captured from one read does not authorize another operation or other variables', async () => {
    const token = await stack.token({ scopes: ['crm:read'] });
    const res = await postGraphQL(gatewayUrl, 'query One($n: Int!) { accounts(first: $n) { nodes { id } } }', { token, variables: { n: 1 } });
    expect(res.body.errors).toBeUndefined();
    const seen = captured.find((c) => c.body.includes('accounts'));
    if (!seen) throw new Error('the gateway sent no CRM request');

    // The captured request itself still passes within its few seconds: the header is bound to it, not single-use.
    expect((await replay(seen.header, seen.body)).status).toBe(200);
    const other = JSON.stringify({ query: '{ accounts(first: 50) { nodes { id name website } } }' });
    const sent = JSON.parse(seen.body) as { query: string; variables?: Record<string, unknown> };
    const otherVars = JSON.stringify({ ...sent, variables: { ...sent.variables, n: 50 } });
    const entities = JSON.stringify({ query: '{ _entities(representations: [{ __typename: "Account", id: "x" }]) { ... on Account { id name } } }' });
    for (const body of [other, entities, otherVars]) {
      const r = await replay(seen.header, body);
      expect(r.status).toBe(401);
      expect(r.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }
  });

  it('a header captured from a write cannot run that write again', async () => {
    const before = captured.length;
    const res = await postGraphQL(gatewayUrl, 'mutation { createAccount(input: { name: "Replay Ltd", billingAddress: { line1: "1 Rue", city: "Paris", country: "FR" } }) { id } }', {
      token: await stack.token(),
    });
    expect(res.body.errors).toBeUndefined();
    const write = captured.slice(before).find((c) => c.body.includes('createAccount'));
    if (!write) throw new Error('the gateway sent no CRM write');
    const again = await replay(write.header, write.body);
    expect(again.status).toBe(401);
    const rows = await stack.db.query('SELECT id FROM crm.accounts WHERE tenant_id = $1 AND name = $2', ['acme', 'Replay Ltd']);
    expect(rows).toHaveLength(1);
  });
  describe('across subgraph instances', () => {
    /** Another CRM instance on the same database, with its own Redis connection (or one to a Redis that is down). */
    const crmInstance = async (redisUrl: string): Promise<RunningServer & { stop(): Promise<void> }> => {
      const redis = createRedis(redisUrl, stack.config.redisKeyPrefix);
      const definitions = subgraphDefinitions({ systems: stack.sync.systems, wake: () => undefined, connections: connectionsFromConfig(stack.db, stack.config, createLogger('silent', 'test')), partnerWebhooks: partnerWebhooksFromConfig(stack.db, stack.config) });
      const server = await startSubgraph(definitions.crm, {
        db: stack.db, host: '127.0.0.1', port: 0, internalSecret: stack.config.internalSecret, production: false, logger: createLogger('silent', 'test'), redis,
      });
      return Object.assign(server, {
        async stop() {
          await server.close();
          redis.disconnect();
        },
      });
    };
    const accounts = (name: string) => stack.db.query('SELECT id FROM crm.accounts WHERE tenant_id = $1 AND name = $2', ['acme', name]);

    it('a header captured from a write is refused on every other instance (used ids shared through Redis)', async () => {
      const other = await crmInstance(stack.config.redisUrl ?? '');
      try {
        const before = captured.length;
        const res = await postGraphQL(gatewayUrl, 'mutation { createAccount(input: { name: "Replay Two Ltd" }) { id } }', { token: await stack.token() });
        expect(res.body.errors).toBeUndefined();
        const write = captured.slice(before).find((c) => c.body.includes('createAccount'));
        if (!write) throw new Error('the gateway sent no CRM write');
        // The first instance ran it; the second has never seen this header, yet refuses it.
        const elsewhere = await replay(write.header, write.body, other.url);
        expect(elsewhere.status).toBe(401);
        expect(elsewhere.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
        expect(await accounts('Replay Two Ltd')).toHaveLength(1);
      } finally {
        await other.stop();
      }
    });

    it('with Redis unreachable, an instance still takes fresh writes and refuses a replay of one it ran', async () => {
      const isolated = await crmInstance(`redis://127.0.0.1:${await freePort()}`);
      try {
        const sign = claimsSigner(stack.config.internalSecret);
        const body = { query: 'mutation { createAccount(input: { name: "Offline Ltd" }) { id } }' };
        const header = await sign({ sub: 'test-user', tenant: 'acme', kind: 'user', scopes: new Set(['crm:read', 'crm:write']), exp: Math.floor(Date.now() / 1000) + 600 }, body);
        const first = await replay(header, JSON.stringify(body), isolated.url);
        expect(first.body.errors).toBeUndefined();
        expect(first.status).toBe(200);
        const again = await replay(header, JSON.stringify(body), isolated.url);
        expect(again.status).toBe(401);
        expect(await accounts('Offline Ltd')).toHaveLength(1);
      } finally {
        await isolated.stop();
      }
    });
  });
});
