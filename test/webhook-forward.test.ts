import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { webhookForwarder, withWebhooks } from '../gateway/webhook-forward';
import { listen, sendJson } from '../lib/http/server';
import { createLogger } from '../lib/logger';

/** The gateway's webhook forwarder when the sync service cannot answer: vendors get a status they retry on. */
describe('webhook forwarder without a working receiver', () => {
  const logger = createLogger('silent', 'test');
  const gatewayWith = (syncBaseUrl: string, timeoutMs?: number) =>
    listen(withWebhooks(webhookForwarder({ syncBaseUrl, logger, timeoutMs }), async (_req, res) => sendJson(res, 404, {})), '127.0.0.1', 0);

  it('answers 502 when nothing listens at the sync service, 504 when it does not answer in time', async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const freePort = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const down = await gatewayWith(`http://127.0.0.1:${freePort}`);
    // A receiver that takes the request and never answers.
    const hanging: Server = createServer(() => undefined);
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    const slow = await gatewayWith(`http://127.0.0.1:${(hanging.address() as AddressInfo).port}`, 300);
    try {
      const post = (url: string) => fetch(url.replace(/\/graphql$/, '/webhooks/stripe/conn_x'), { method: 'POST', body: '{}', headers: { 'stripe-signature': 't=1,v1=00' } });
      const refused = await post(down.url);
      expect(refused.status).toBe(502);
      expect(await refused.json()).toEqual({ error: { code: 'UPSTREAM_UNAVAILABLE', message: 'Webhook receiver unavailable; retry later' } });
      expect((await post(slow.url)).status).toBe(504);
      // Other paths are not the forwarder's.
      expect((await fetch(down.url)).status).toBe(404);
    } finally {
      await down.close(1000);
      await slow.close(1000);
      hanging.closeAllConnections();
      await new Promise<void>((r) => hanging.close(() => r()));
    }
  });
});
