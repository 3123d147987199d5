import { isIP } from 'node:net';
import { Agent, request } from 'undici';
import { retryAfterMs } from '../../../lib/http/retry-after';
import { type AddressPolicy, addressRefusal, guardedLookup } from './address-policy';
import type { AttemptResult } from './outcome';
import type { SignedHeaders } from './signing';

export interface Sender {
  /** POSTs one signed message; never throws: failures come back as `no-answer`. */
  send(url: string, headers: SignedHeaders, body: string): Promise<AttemptResult>;
  close(): Promise<void>;
}

/** What an error message may say about a failed connection: its code only, never a body or an address we hold. */
function describe(err: unknown): string {
  const { code, name } = (err ?? {}) as { code?: unknown; name?: unknown };
  if (code === 'ESSRF') return 'ADDRESS_REFUSED: the endpoint resolves to an address partner webhooks may not reach';
  // The signal's own reason is a DOMException (TimeoutError), not always an Error of this realm.
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || name === 'TimeoutError') return 'TIMEOUT';
  return typeof code === 'string' ? `CONNECTION_FAILED: ${code}` : 'CONNECTION_FAILED';
}

/**
 * The HTTP side of deliveries: one undici Agent whose sockets resolve names through the SSRF guard, a bound on the
 * whole attempt (`timeoutMs`: connect, headers and body), no redirects followed, the response body read and thrown
 * away (only the status and Retry-After matter).
 */
export function httpSender(policy: AddressPolicy, timeoutMs: number): Sender {
  const agent = new Agent({
    connect: { lookup: guardedLookup(policy), timeout: timeoutMs },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    keepAliveTimeout: 4_000,
  });
  return {
    async send(url, headers, body) {
      const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
      // A literal address never goes through lookup: check it here (it was checked at registration too).
      const refusal = isIP(host) !== 0 ? addressRefusal(host, policy) : null;
      if (refusal) return { kind: 'no-answer', error: `ADDRESS_REFUSED: the endpoint host ${refusal}` };
      try {
        const res = await request(url, {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': 'application/json', 'user-agent': 'sor-gateway-webhooks/1', ...headers },
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
        const header = res.headers['retry-after'];
        return { kind: 'answered', status: res.statusCode, retryAfterMs: retryAfterMs(Array.isArray(header) ? header[0] : header) };
      } catch (err) {
        return { kind: 'no-answer', error: describe(err) };
      }
    },
    // Idempotent: a runtime stopped twice (its owner and then the stack) closes the agent once.
    close: () => (agent.closed || agent.destroyed ? Promise.resolve() : agent.close()),
  };
}
