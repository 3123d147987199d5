import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as a fake received it, for tests to assert on (what was sent, how often, with which headers). */
export interface LoggedRequest {
  at: number;
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  status: number;
}

/**
 * Switches a test flips to make a fake misbehave the way its vendor does. Each fake decides what a failure looks
 * like on its wire (HubSpot's JSON envelope, Odoo's JSON-RPC error); these only say when.
 */
export class FaultSwitches {
  /** Status codes answered to the next requests, one each, before any handling (e.g. [503, 503]). */
  failNext: number[] = [];
  /** Delay before each answer, to exercise timeouts. */
  latencyMs = 0;
  /** Credentials no longer accepted (the vendor revoked the token / API key). */
  revoked = false;
}

export interface RunningFake {
  url: string;
  close(): Promise<void>;
}

/**
 * What every vendor fake shares: a request log, fault switches, and start/stop on an ephemeral port. A fake
 * supplies only `handle`, which speaks its vendor's wire format.
 */
export abstract class HttpFake {
  readonly log: LoggedRequest[] = [];
  readonly faults = new FaultSwitches();
  private running: RunningFake | null = null;

  protected abstract handle(req: IncomingMessage, body: string, res: ServerResponse): Promise<void> | void;

  async start(): Promise<string> {
    this.running = await serveFake(this.log, this.faults, (req, body, res) => this.handle(req, body, res));
    return this.running.url;
  }

  async stop(): Promise<void> {
    await this.running?.close();
    this.running = null;
  }

  get url(): string {
    if (!this.running) throw new Error(`${this.constructor.name} not started`);
    return this.running.url;
  }
}

/** Serves `handle` on an ephemeral port with the raw body read, logging each request with the status it got. */
export async function serveFake(
  log: LoggedRequest[],
  faults: FaultSwitches,
  handle: (req: IncomingMessage, body: string, res: ServerResponse) => Promise<void> | void,
): Promise<RunningFake> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      res.on('finish', () => log.push({ at: Date.now(), method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body, status: res.statusCode }));
      const run = async () => {
        if (faults.latencyMs > 0) await new Promise((r) => setTimeout(r, faults.latencyMs));
        await handle(req, body, res);
      };
      run().catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/**
 * The most requests any window of `windowMs` held (sliding, by arrival time at the fake): what a vendor's rate limit
 * counts, measured where the vendor would measure it.
 */
export function busiestWindow(entries: readonly { at: number }[], windowMs: number): number {
  const times = entries.map((r) => r.at).sort((a, b) => a - b);
  let max = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while ((times[i] ?? 0) - (times[j] ?? 0) >= windowMs) j++;
    max = Math.max(max, i - j + 1);
  }
  return max;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json;charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

/** A type as it travels as JSON: dates as ISO strings, and the SDKs' `_from`/`_new` renames undone. */
export type Wire<T> = T extends Date
  ? string
  : T extends (infer U)[]
    ? Wire<U>[]
    : T extends object
      ? { [K in keyof T as K extends `_${infer R}` ? R : K]: Wire<T[K]> }
      : T;
