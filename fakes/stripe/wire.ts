import { randomBytes } from 'node:crypto';
import type Stripe from 'stripe';
import type { FormObject, FormValue } from './form';

/** The `type` of Stripe's error envelope `{ error: { type, code, message, param } }`. */
export type StripeErrorType = 'api_error' | 'card_error' | 'idempotency_error' | 'invalid_request_error';

/** Thrown by handlers; the server answers it with Stripe's error envelope and `status`. */
export class StripeWireError extends Error {
  constructor(
    readonly status: number,
    readonly type: StripeErrorType,
    message: string,
    readonly code?: string,
    readonly param?: string,
  ) {
    super(message);
  }

  envelope(): { error: { type: StripeErrorType; message: string; code?: string; param?: string } } {
    return { error: { type: this.type, message: this.message, ...(this.code ? { code: this.code } : {}), ...(this.param ? { param: this.param } : {}) } };
  }
}

export const missing = (kind: string, id: string, param = 'id') =>
  new StripeWireError(404, 'invalid_request_error', `No such ${kind}: '${id}'`, 'resource_missing', param);

export const invalid = (message: string, param?: string, code = 'parameter_invalid') =>
  new StripeWireError(400, 'invalid_request_error', message, code, param);

/** Stripe-shaped ids: a prefix and 24 random base62-ish characters. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(18).toString('base64url').replace(/[-_]/g, '0').slice(0, 24)}`;
}

export const unixNow = () => Math.floor(Date.now() / 1000);

/** Reads of one request's parameters (a parsed form body or query string), with Stripe's 400s for bad values. */
export class Params {
  constructor(readonly raw: FormObject) {}

  str(name: string): string | undefined {
    const v = this.raw[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw invalid(`Invalid string: ${name}`, name);
    return v;
  }

  required(name: string): string {
    const v = this.str(name);
    if (v === undefined || v === '') throw invalid(`Missing required param: ${name}.`, name, 'parameter_missing');
    return v;
  }

  int(name: string): number | undefined {
    const v = this.str(name);
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v)) throw invalid(`Invalid integer: ${v}`, name);
    return Number(v);
  }

  bool(name: string): boolean | undefined {
    const v = this.str(name);
    if (v === undefined) return undefined;
    if (v !== 'true' && v !== 'false') throw invalid(`Invalid boolean: ${v}`, name);
    return v === 'true';
  }

  /** `metadata[...]`: an empty value deletes the key (Stripe's rule), so callers merge with `mergeMetadata`. */
  metadata(): Record<string, string> | undefined {
    const v = this.raw['metadata'];
    if (v === undefined) return undefined;
    if (typeof v === 'string' && v === '') return {};
    if (typeof v !== 'object' || Array.isArray(v)) throw invalid('Invalid hash', 'metadata');
    const out: Record<string, string> = {};
    for (const [k, value] of Object.entries(v)) {
      if (typeof value !== 'string') throw invalid('Invalid metadata value', `metadata[${k}]`);
      out[k] = value;
    }
    return out;
  }

  /** An array of hashes (`items[0][price]=...`), each read with its own Params. */
  list(name: string): Params[] | undefined {
    const v = this.raw[name];
    if (v === undefined) return undefined;
    const entries: FormValue[] = Array.isArray(v) ? v : typeof v === 'object' ? Object.values(v) : [];
    return entries.map((e, i) => {
      if (typeof e !== 'object' || Array.isArray(e)) throw invalid(`Invalid array`, `${name}[${i}]`);
      return new Params(e);
    });
  }

  strings(name: string): string[] {
    const v = this.raw[name];
    if (v === undefined) return [];
    if (typeof v === 'string') return [v];
    return (Array.isArray(v) ? v : Object.values(v)).filter((x): x is string => typeof x === 'string');
  }
}

/** Stripe's metadata update rule: keys set to '' are removed, others set, unnamed ones kept. */
export function mergeMetadata(current: Stripe.Metadata, update: Record<string, string> | undefined): Stripe.Metadata {
  if (!update) return current;
  if (Object.keys(update).length === 0) return {};
  const out = { ...current };
  for (const [k, v] of Object.entries(update)) {
    if (v === '') delete out[k];
    else out[k] = v;
  }
  return out;
}

/**
 * A list object page, Stripe's way: objects newest first, `limit` 1..100 (default 10), `starting_after` the id of
 * the last object of the previous page. An unknown cursor is a 400, as in Stripe.
 */
export function listPage<T extends { id: string }>(all: readonly T[], params: Params, url: string): Stripe.ApiList<T> {
  const limit = params.int('limit') ?? 10;
  if (limit < 1 || limit > 100) throw invalid('Invalid limit: must be between 1 and 100', 'limit');
  const after = params.str('starting_after');
  let start = 0;
  if (after) {
    const at = all.findIndex((o) => o.id === after);
    if (at < 0) throw missing('object', after, 'starting_after');
    start = at + 1;
  }
  const data = all.slice(start, start + limit);
  return { object: 'list', data, has_more: start + limit < all.length, url };
}
