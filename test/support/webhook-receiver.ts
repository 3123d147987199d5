import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the receiver got it: raw body text and lower-case headers. */
export interface Received {
  headers: Record<string, string>;
  body: string;
  at: number;
}

/** How the receiver answers its n-th request (0-based): a status with headers, or `hang` (never answer). */
export type Answer = { status: number; headers?: Record<string, string> } | 'hang';

export interface WebhookReceiver {
  url: string;
  received: Received[];
  /** Requests not answered yet (hanging, or being answered). */
  open(): number;
  /** The most requests it ever had open at once. */
  maxOpen(): number;
  /** Changes how later requests are answered. */
  answerWith(script: (n: number) => Answer): void;
  /** Resolves once `count` requests have arrived (event-driven, no polling). */
  waitForCount(count: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/** A partner's endpoint on 127.0.0.1 over real HTTP, scripted per request. */
export async function startWebhookReceiver(script: (n: number) => Answer = () => ({ status: 200 })): Promise<WebhookReceiver> {
  const received: Received[] = [];
  let answer = script;
  const waiters = new Set<() => void>();
  const hung = new Set<http.ServerResponse>();
  let open = 0;
  let maxOpen = 0;
  const server = http.createServer((req, res) => {
    open += 1;
    maxOpen = Math.max(maxOpen, open);
    res.once('close', () => (open -= 1));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = received.length;
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
      received.push({ headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      for (const w of [...waiters]) w();
      const a = answer(n);
      if (a === 'hang') {
        hung.add(res);
        return;
      }
      res.writeHead(a.status, { 'content-type': 'text/plain', ...a.headers });
      res.end('ok');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    open: () => open,
    maxOpen: () => maxOpen,
    answerWith(next) {
      answer = next;
    },
    waitForCount(count, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`receiver got ${received.length} of ${count} requests within ${timeoutMs} ms`));
        }, timeoutMs);
        const check = () => {
          if (received.length < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(received.slice());
        };
        waiters.add(check);
        check();
      });
    },
    async close() {
      for (const res of hung) res.socket?.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
