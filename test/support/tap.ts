import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';

/**
 * A real HTTP hop in front of a subgraph that a test steers: it counts what passes, can hold requests until released,
 * and can play the subgraph being down (502, as a load balancer answers for a dead upstream).
 */
export interface Tap {
  url: string;
  /** Requests that reached the tap. */
  readonly seen: number;
  /** Requests held now. */
  readonly holding: number;
  /** Hold the requests that arrive from now on, until `release`. */
  hold(): void;
  /** Forward the held requests and stop holding. */
  release(): void;
  /** Answer 502 to everything (true) or forward again (false). */
  down(isDown: boolean): void;
  close(): Promise<void>;
}

export async function startTap(upstream: string): Promise<Tap> {
  let seen = 0;
  let holding = false;
  let isDown = false;
  const held: (() => void)[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen += 1;
      if (isDown) {
        res.writeHead(502).end();
        return;
      }
      const forward = () => {
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k))) as Record<string, string>;
        request(upstream, { method: 'POST', headers, body: Buffer.concat(chunks) })
          .then(async (up) => {
            // Cache-Control too: the gateway's cache policy follows the subgraphs' headers.
            const cacheControl = up.headers['cache-control'];
            res.writeHead(up.statusCode, { 'content-type': 'application/json', ...(typeof cacheControl === 'string' ? { 'cache-control': cacheControl } : {}) }).end(await up.body.text());
          })
          .catch(() => res.writeHead(502).end());
      };
      if (holding) held.push(forward);
      else forward();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    get seen() {
      return seen;
    },
    get holding() {
      return held.length;
    },
    hold: () => void (holding = true),
    release() {
      holding = false;
      for (const f of held.splice(0)) f();
    },
    down: (d) => void (isDown = d),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
