import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { type FormObject, parseForm } from './form';
import { expand, routes } from './routes';
import { AccountStore } from './store';
import { WebhookSender } from './webhooks';
import { Params, StripeWireError, newId } from './wire';
import { busiestWindow } from '../http-fake';

/** The one API version the fake speaks: the installed SDK's. */
const API_VERSION = Stripe.API_VERSION;

/** One request as the fake saw it: what tests assert on (one Idempotency-Key per write, requests per second...). */
export interface LoggedRequest {
  method: string;
  path: string;
  /** Our Idempotency-Key header, null when none was sent. */
  idempotencyKey: string | null;
  stripeVersion: string | null;
  /** The account the key belongs to; null when the key was refused. */
  account: string | null;
  status: number;
  /** True when the answer was a replay of an earlier request with the same Idempotency-Key. */
  replayed: boolean;
  /** When the request arrived (ms since epoch). */
  at: number;
}

export interface StripeFakeOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Webhook delivery retries after a failed attempt (default 3) and the base delay between them (default 50 ms). */
  webhookRetries?: number;
  webhookRetryDelayMs?: number;
}

interface SavedResponse {
  fingerprint: string;
  status: number;
  body: string;
  requestId: string;
}

/** Switches that make the fake misbehave; each `*Next` counts down per request that reaches it. */
interface Faults {
  failNext: { count: number; status: number };
  rateLimitNext: { count: number; retryAfterSeconds: number };
  dropNext: number;
  latencyMs: number;
}

/**
 * A stateful stand-in for Stripe's API over real HTTP, speaking its wire format for the endpoints we use: form-encoded
 * bodies with bracketed keys, `Authorization: Bearer sk_...` (or Basic) per account, `Stripe-Version` (only the version of the
 * installed SDK, so a request without the pinned version is visible as a 400), list objects with
 * `starting_after`/`has_more`, Stripe's error envelope, and Idempotency-Key semantics: a POST repeated with the same
 * key and parameters gets the first answer replayed (`Idempotent-Replayed: true`); the same key with other parameters
 * is a 400 `idempotency_error`. Only successful answers are kept for replay (Stripe also keeps errors raised after
 * the endpoint started executing) and keys do not expire (Stripe's do after 24 hours).
 * Injected faults happen in front of the API, as a failing proxy would: nothing runs and nothing is kept.
 */
export class StripeFake {
  readonly log: LoggedRequest[] = [];
  readonly webhooks: WebhookSender;
  readonly apiVersion = API_VERSION;
  private readonly accounts = new Map<string, AccountStore>();
  private readonly keys = new Map<string, { account: string; revoked: boolean }>();
  private readonly idempotency = new Map<string, SavedResponse>();
  private readonly faults: Faults = { failNext: { count: 0, status: 500 }, rateLimitNext: { count: 0, retryAfterSeconds: 1 }, dropNext: 0, latencyMs: 0 };
  private readonly server = createServer((req, res) => void this.handle(req, res));
  private address: AddressInfo | null = null;

  constructor(private readonly options: StripeFakeOptions = {}) {
    this.webhooks = new WebhookSender({ retries: options.webhookRetries ?? 3, retryDelayMs: options.webhookRetryDelayMs ?? 50, timeoutMs: 5_000 });
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => resolve());
    });
    this.address = this.server.address() as AddressInfo;
    return this;
  }

  get host(): string {
    return this.options.host ?? '127.0.0.1';
  }

  get port(): number {
    if (!this.address) throw new Error('the Stripe fake is not listening');
    return this.address.port;
  }

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  async close(): Promise<void> {
    await this.webhooks.settled();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- accounts and keys

  /** A new Stripe account with one secret key (a test-mode `sk_test_...` unless given). */
  addAccount(secretKey = `sk_test_${newId('k').slice(2)}`): { accountId: string; secretKey: string } {
    const accountId = newId('acct');
    this.accounts.set(accountId, new AccountStore(accountId, API_VERSION, (event) => this.webhooks.enqueue(accountId, event)));
    this.keys.set(secretKey, { account: accountId, revoked: false });
    return { accountId, secretKey };
  }

  /** Rolls a key: the old one answers 401 (`api_key_expired`) from now on; returns the account's new key. */
  rollKey(secretKey: string): string {
    const entry = this.keys.get(secretKey);
    if (!entry) throw new Error('unknown key');
    this.revokeKey(secretKey);
    const next = `sk_test_${newId('k').slice(2)}`;
    this.keys.set(next, { account: entry.account, revoked: false });
    return next;
  }

  revokeKey(secretKey: string): void {
    const entry = this.keys.get(secretKey);
    if (entry) entry.revoked = true;
  }

  /** An account's objects, for tests to look at and to change out of band. */
  account(accountId: string): AccountStore {
    const store = this.accounts.get(accountId);
    if (!store) throw new Error(`no account ${accountId}`);
    return store;
  }

  /** Registers a webhook endpoint of the account; returns its signing secret (`whsec_...`). */
  addWebhookEndpoint(accountId: string, url: string, secret?: string): string {
    this.account(accountId);
    return this.webhooks.addEndpoint(accountId, url, secret).secret;
  }

  /** Out of band: the customer paid an open invoice by bank transfer; `invoice.paid` is sent. */
  payInvoice(accountId: string, invoiceId: string) {
    return this.account(accountId).markPaid(null, invoiceId);
  }

  /** A customer paid `amount` (minor units) of an open invoice: `invoice_payment.paid`, and `invoice.paid` once settled. */
  payInvoicePart(accountId: string, invoiceId: string, amount: number) {
    return this.account(accountId).pay(null, invoiceId, amount);
  }

  /** Sends an event of the account again, as Stripe's at-least-once delivery does. */
  resendEvent(accountId: string, eventId: string): void {
    const event = this.account(accountId).events.find((e) => e.id === eventId);
    if (!event) throw new Error(`no event ${eventId}`);
    this.webhooks.resend(accountId, event);
  }

  // ---- faults

  /** The next `count` requests answer `status` with Stripe's api_error envelope; `Infinity` keeps Stripe down until `heal()`. */
  failNext(count: number, status = 500): void {
    this.faults.failNext = { count, status };
  }

  /** The next `count` requests answer 429 with `Retry-After: retryAfterSeconds`. */
  rateLimitNext(count: number, retryAfterSeconds = 1): void {
    this.faults.rateLimitNext = { count, retryAfterSeconds };
  }

  /** The next `count` requests run, then their connection is cut before the answer (a lost response). */
  dropResponseNext(count: number): void {
    this.faults.dropNext = count;
  }

  /** Every answer waits this long first (0 to stop): for timeouts. */
  setLatency(ms: number): void {
    this.faults.latencyMs = ms;
  }

  /** Clears every fault switch. */
  heal(): void {
    this.failNext(0);
    this.rateLimitNext(0);
    this.dropResponseNext(0);
    this.setLatency(0);
  }

  // ---- request log helpers

  /** Writes (POST and DELETE) that reached the API, replays excluded unless asked. */
  writes(options: { includeReplays?: boolean } = {}): LoggedRequest[] {
    return this.log.filter((r) => r.method !== 'GET' && r.account !== null && (options.includeReplays || !r.replayed));
  }

  /** The most requests that arrived within any `windowMs` (default one second): proof an outbound limit held. */
  maxRequestsPer(windowMs = 1_000, entries: readonly LoggedRequest[] = this.log): number {
    return busiestWindow(entries, windowMs);
  }

  // ---- HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const idempotencyKey = header(req, 'idempotency-key');
    const stripeVersion = header(req, 'stripe-version');
    const entry: LoggedRequest = { method, path: url.pathname, idempotencyKey, stripeVersion, account: null, status: 0, replayed: false, at };
    this.log.push(entry);
    const body = await readBody(req);
    if (this.faults.latencyMs > 0) await new Promise((r) => setTimeout(r, this.faults.latencyMs).unref());
    const requestId = newId('req');
    let drop = false;
    const send = (status: number, json: string, extra: Record<string, string> = {}) => {
      entry.status = status;
      if (drop) {
        // The request ran; its answer is lost on the way back.
        res.destroy();
        return;
      }
      res.writeHead(status, {
        'content-type': 'application/json', 'request-id': requestId, 'stripe-version': stripeVersion ?? API_VERSION,
        ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}), ...extra,
      });
      res.end(json);
    };
    const fail = (err: StripeWireError, extra?: Record<string, string>) => send(err.status, JSON.stringify(err.envelope(), null, 2), extra);

    try {
      const store = this.authenticate(header(req, 'authorization'));
      entry.account = store.id;
      if (stripeVersion && stripeVersion !== API_VERSION) {
        throw new StripeWireError(400, 'invalid_request_error', `Invalid Stripe API version: ${stripeVersion}. This fake speaks ${API_VERSION}.`, 'api_version_invalid');
      }
      if (this.faults.rateLimitNext.count > 0) {
        this.faults.rateLimitNext.count--;
        const retryAfter = String(this.faults.rateLimitNext.retryAfterSeconds);
        fail(new StripeWireError(429, 'invalid_request_error', 'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.', 'rate_limit'), { 'retry-after': retryAfter, 'stripe-should-retry': 'true' });
        return;
      }
      if (this.faults.failNext.count > 0) {
        this.faults.failNext.count--;
        fail(new StripeWireError(this.faults.failNext.status, 'api_error', 'An unknown error occurred (injected by the Stripe fake).'));
        return;
      }
      if (this.faults.dropNext > 0) {
        this.faults.dropNext--;
        drop = true;
      }
      const match = this.match(method, url.pathname);
      const params = new Params(method === 'GET' || method === 'DELETE' ? parseForm(url.search.slice(1)) : parseForm(body));
      const run = () => {
        const result = match.route.handle({ store, params, ids: match.ids, ctx: { requestId, idempotencyKey }, path: url.pathname });
        const expandPaths = params.strings('expand');
        const shaped = expandPaths.length ? expand(result, expandPaths, (id) => lookup(store, id)) : result;
        return JSON.stringify(shaped, null, 2);
      };
      // Stripe keys idempotency on POST only; keys sent with GET or DELETE have no effect.
      if (method !== 'POST' || !idempotencyKey) {
        send(200, run());
      } else {
        this.runIdempotent(store.id, idempotencyKey, `${method} ${url.pathname} ${canonical(params.raw)}`, requestId, run, send, entry);
      }
    } catch (err) {
      if (err instanceof StripeWireError) fail(err);
      else fail(new StripeWireError(500, 'api_error', err instanceof Error ? err.message : String(err)));
    }
  }

  private runIdempotent(
    account: string, key: string, fingerprint: string, requestId: string, run: () => string,
    send: (status: number, json: string, extra?: Record<string, string>) => void, entry: LoggedRequest,
  ): void {
    const slot = `${account}:${key}`;
    const saved = this.idempotency.get(slot);
    if (saved) {
      if (saved.fingerprint !== fingerprint) {
        throw new StripeWireError(400, 'idempotency_error', `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`);
      }
      entry.replayed = true;
      send(saved.status, saved.body, { 'idempotent-replayed': 'true', 'original-request': saved.requestId });
      return;
    }
    // Requests run to completion synchronously, so two with one key never overlap (Stripe would answer the second 409).
    const body = run();
    this.idempotency.set(slot, { fingerprint, status: 200, body, requestId });
    send(200, body);
  }

  private authenticate(authorization: string | null): AccountStore {
    // Bearer (what the SDK sends) or Basic with the key as user name (what `curl -u sk_test_...:` sends).
    const basic = /^Basic (.+)$/.exec(authorization ?? '')?.[1];
    const key = basic ? Buffer.from(basic, 'base64').toString('utf8').replace(/:.*$/, '') || undefined : /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
    if (!key) {
      throw new StripeWireError(401, 'invalid_request_error', 'You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. \'Authorization: Bearer YOUR_SECRET_KEY\').');
    }
    const entry = this.keys.get(key);
    const masked = `${key.slice(0, 8)}${'*'.repeat(Math.max(0, key.length - 12))}${key.slice(-4)}`;
    if (!entry) throw new StripeWireError(401, 'invalid_request_error', `Invalid API Key provided: ${masked}`);
    if (entry.revoked) throw new StripeWireError(401, 'invalid_request_error', `Expired API Key provided: ${masked}`, 'api_key_expired');
    return this.account(entry.account);
  }

  private match(method: string, path: string): { route: (typeof routes)[number]; ids: string[] } {
    for (const route of routes) {
      if (route.method !== method) continue;
      const m = route.pattern.exec(path);
      if (m) return { route, ids: m.slice(1).filter((x): x is string => x !== undefined) };
    }
    throw new StripeWireError(404, 'invalid_request_error', `Unrecognized request URL (${method}: ${path}).`);
  }
}

/** Starts a fake on a free port (unless `port` is given). */
export function startStripeFake(options: StripeFakeOptions = {}): Promise<StripeFake> {
  return new StripeFake(options).listen();
}

function header(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Parameters compared for idempotency: order of keys does not matter, values do. */
function canonical(value: FormObject | string | unknown[]): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v as FormObject)).join(',')}]`;
  return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k] as FormObject)}`).join(',')}}`;
}

function lookup(store: AccountStore, id: string): unknown {
  const prefix = id.slice(0, id.indexOf('_'));
  const maps: Record<string, ReadonlyMap<string, unknown>> = {
    cus: store.customers, prod: store.products, price: store.prices, sub: store.subscriptions, in: store.invoices,
  };
  return maps[prefix]?.get(id);
}
