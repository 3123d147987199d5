import http from 'node:http';
import { listen, sendJson } from '../lib/http/server';

/** Issue 11, item 17: draining a server never resets a keep-alive client's request that was in flight. */
describe('graceful shutdown', () => {
  interface Answer { status: number; connection: string | undefined; body: string }
  const get = (agent: http.Agent, port: number, path: string) =>
    new Promise<Answer>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path, agent }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
        })
        .on('error', reject);
    });

  it('answers requests in flight at close with Connection: close and closes their sockets after the response', async () => {
    const gates: (() => void)[] = [];
    let arrived: () => void = () => undefined;
    const slowArrived = new Promise<void>((resolve) => (arrived = resolve));
    const running = await listen(
      async (req, res) => {
        if (req.url === '/slow') {
          arrived();
          await new Promise<void>((resolve) => gates.push(resolve));
        }
        sendJson(res, 200, { path: req.url });
      },
      '127.0.0.1',
      0,
    );
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    // Two keep-alive sockets: one busy with a slow request at close, one idle.
    const [warm] = await Promise.all([get(agent, running.port, '/fast'), get(agent, running.port, '/fast')]);
    expect(warm?.connection).toBe('keep-alive');
    const slow = get(agent, running.port, '/slow');
    await slowArrived;

    const closed = running.close(60_000);
    // The idle socket went away at once; the busy one is still there, waiting for its response.
    for (const gate of gates) gate();
    const answer = await slow;
    expect(answer).toEqual({ status: 200, connection: 'close', body: JSON.stringify({ path: '/slow' }) });
    await closed;
    agent.destroy();
  });
});
