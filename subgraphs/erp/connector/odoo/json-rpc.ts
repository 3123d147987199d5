import { AuthError, PermanentError, TransientError } from '../../../../lib/connectors/errors';
import type { Outbound } from '../../../../lib/connectors/outbound';

/**
 * A small typed client for Odoo's external JSON-RPC API: `POST /jsonrpc` with `service` `common` (authenticate) and
 * `object` (`execute_kw(db, uid, apiKey, model, method, args, kwargs)`). Written here because the npm clients
 * (`odoo-await`, `odoo-xmlrpc`) speak XML-RPC through the unmaintained `xmlrpc` package, have no types and few
 * users; the JSON-RPC envelope is a few lines over `fetch`.
 */
export type OdooJson = string | number | boolean | null | OdooJson[] | { [key: string]: OdooJson };

export interface OdooConnectionInfo {
  /** The server's base URL, e.g. https://acme.odoo.com. */
  url: string;
  db: string;
  /** The API user's login (an email on odoo.com). */
  login: string;
  /** An API key of that user (Preferences > Account Security), used in place of the password. */
  apiKey: string;
}

interface RpcError {
  code: number;
  message: string;
  data?: { name?: string; message?: string };
}

/** Odoo exceptions a retry can fix: serialization failures and lock timeouts under concurrent writes. */
const TRANSIENT_EXCEPTIONS = /SerializationFailure|LockNotAvailable|OperationalError|concurrent update/i;

export class OdooRpc {
  private uid: Promise<number> | null = null;
  private nextId = 1;

  constructor(private readonly info: OdooConnectionInfo, private readonly outbound: Outbound) {}

  /** Runs `model.method(*args, **kwargs)` as the API user. */
  async execute<T extends OdooJson>(model: string, method: string, args: OdooJson[], kwargs: Record<string, OdooJson> = {}): Promise<T> {
    const uid = await this.authenticate();
    return this.call<T>(`${model}.${method}`, 'object', 'execute_kw', [this.info.db, uid, this.info.apiKey, model, method, args, kwargs]);
  }

  /** The API user's id, asked once per client; `false` from Odoo means the login or key is refused. */
  private authenticate(): Promise<number> {
    this.uid ??= this.call<number | false>('common.authenticate', 'common', 'authenticate', [this.info.db, this.info.login, this.info.apiKey, {}]).then((uid) => {
      if (uid === false) throw new AuthError('Odoo refused the login or API key');
      return uid;
    });
    // A failed attempt is not cached: the next call tries again (after the credentials are rotated, say).
    this.uid.catch(() => (this.uid = null));
    return this.uid;
  }

  private call<T>(operation: string, service: string, method: string, args: OdooJson[]): Promise<T> {
    return this.outbound.call(`odoo.${operation}`, async (signal) => {
      let res: Response;
      try {
        res = await fetch(new URL('/jsonrpc', this.info.url), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', method: 'call', params: { service, method, args }, id: this.nextId++ }),
          signal,
        });
      } catch (err) {
        throw new TransientError('ODOO_UNREACHABLE', `${operation}: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (!res.ok) throw httpError(res, operation);
      const body = (await res.json()) as { result?: T; error?: RpcError };
      if (body.error) throw rpcError(body.error, operation);
      return body.result as T;
    });
  }
}

function httpError(res: Response, operation: string): Error {
  const text = `${operation}: Odoo answered HTTP ${res.status}`;
  if (res.status === 401 || res.status === 403) return new AuthError(text, res.status);
  if (res.status === 429 || res.status >= 500) {
    const retryAfterS = Number(res.headers.get('retry-after'));
    return new TransientError(res.status === 429 ? 'RATE_LIMITED' : `HTTP_${res.status}`, text, Number.isFinite(retryAfterS) && retryAfterS > 0 ? retryAfterS * 1000 : undefined);
  }
  return new PermanentError(`HTTP_${res.status}`, text);
}

/**
 * Odoo's error object carries the Python exception's dotted name: access problems (a refused key, or a user without
 * the rights on a model) are the connection's to fix, so AuthError; business-rule refusals (UserError,
 * ValidationError, MissingError) are permanent; database contention is transient.
 */
function rpcError(error: RpcError, operation: string): Error {
  const name = error.data?.name ?? '';
  const message = `${operation}: ${error.data?.message ?? error.message}`;
  if (name === 'odoo.exceptions.AccessDenied' || name === 'odoo.exceptions.AccessError' || error.code === 100) return new AuthError(message);
  if (TRANSIENT_EXCEPTIONS.test(name) || TRANSIENT_EXCEPTIONS.test(error.data?.message ?? '')) return new TransientError('ODOO_CONCURRENCY', message);
  const short = name.split('.').pop() ?? 'Error';
  return new PermanentError(`ODOO_${short.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`, message);
}
