/**
 * Do the gateways of bench/gateways.ts answer the same thing? Before any load (the mix writes), every gateway gets the
 * same probes: the single query, and every read operation of the mix once per tenant and per token kind that may send
 * it, with variables drawn from the seeded ids. Each answer is reduced to its data and its errors (message, path,
 * code) with sorted keys and compared with our gateway's; a gateway whose answers differ on an operation has that
 * operation named with the first differing path, so a req/s comparison is only made on answers that agree.
 */
import { request } from 'undici';
import type { TokenKind } from '../lib/auth/principal';
import { MIX_OPERATIONS, type MixOperation, type MixPrincipal, type TenantIds, seeded } from './gateways-mix';

export interface Probe {
  /** Operation name, tenant and token kind, e.g. `Account360 acme/partner`. */
  label: string;
  operation: string;
  body: string;
  authorization: string;
}

/** One probe per read operation, tenant and token kind that may send it (partners: only their allowlisted ones). */
export function parityProbes(principals: readonly MixPrincipal[], ids: Readonly<Record<string, TenantIds>>, seed: number, ops: readonly MixOperation[] = MIX_OPERATIONS): Probe[] {
  const probes: Probe[] = [];
  const kinds: TokenKind[] = ['user', 'service', 'partner'];
  ops.filter((o) => !o.write).forEach((o, i) => {
    for (const [tenant, d] of Object.entries(ids)) {
      // The same variables for every kind of one tenant, so kinds differ only by who asks.
      const variables = o.variables(d, seeded(seed * 1000 + i));
      for (const kind of kinds) {
        if (kind === 'partner' && !o.partner) continue;
        const p = principals.find((x) => x.tenant === tenant && x.kind === kind);
        if (!p) continue;
        probes.push({ label: `${o.name} ${tenant}/${kind}`, operation: o.name, body: JSON.stringify({ query: o.query, operationName: o.name, variables }), authorization: `Bearer ${p.token}` });
      }
    }
  });
  return probes;
}

/** JSON with sorted keys, to compare answers regardless of key order. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** What of an answer is compared: HTTP status, data, and each error's message, path and code. */
export interface ProbeAnswer {
  status: number;
  data: unknown;
  errors: { message: string; path?: unknown; code?: unknown }[];
}

function reduce(status: number, text: string): ProbeAnswer {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { status, data: undefined, errors: [{ message: `not JSON: ${text.slice(0, 200)}` }] };
  }
  const o = (json && typeof json === 'object' ? json : {}) as { data?: unknown; errors?: unknown };
  const errors = Array.isArray(o.errors)
    ? o.errors.map((e: { message?: unknown; path?: unknown; extensions?: { code?: unknown } }) => ({ message: String(e?.message), path: e?.path, code: e?.extensions?.code }))
    : [];
  return { status, data: o.data, errors };
}

export async function askProbe(url: string, probe: Probe): Promise<ProbeAnswer> {
  const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: probe.authorization }, body: probe.body });
  return reduce(res.statusCode, await res.body.text());
}

/** The first path at which two values differ, with both sides (short), or null when they are equal. */
export function firstDifference(a: unknown, b: unknown, at = '$'): string | null {
  if (canonical(a) === canonical(b)) return null;
  const short = (v: unknown) => (v === undefined ? 'undefined' : canonical(v).slice(0, 120));
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${at}: ${a.length} items vs ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i], `${at}[${i}]`);
      if (d) return d;
    }
  }
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`);
      if (d) return d;
    }
  }
  return `${at}: ${short(a)} vs ${short(b)}`;
}

/** How one gateway's answer differs from ours, or null when it is the same. */
export function answerDifference(ours: ProbeAnswer, theirs: ProbeAnswer): string | null {
  if (ours.status !== theirs.status) return `HTTP ${theirs.status} instead of ${ours.status}`;
  return firstDifference(ours.data, theirs.data, 'data') ?? firstDifference(ours.errors, theirs.errors, 'errors');
}

export interface ParityResult {
  probes: number;
  /** Probes whose answer differs from ours, with how. */
  differences: { label: string; operation: string; difference: string }[];
}

/** Sends every probe to a gateway and compares each answer with `reference` (ours, same order). */
export async function compareWith(url: string, probes: readonly Probe[], reference: readonly ProbeAnswer[]): Promise<ParityResult> {
  const differences: ParityResult['differences'] = [];
  for (const [i, probe] of probes.entries()) {
    const ref = reference[i];
    if (!ref) throw new Error(`no reference answer for ${probe.label}`);
    const d = answerDifference(ref, await askProbe(url, probe));
    if (d) differences.push({ label: probe.label, operation: probe.operation, difference: d });
  }
  return { probes: probes.length, differences };
}
