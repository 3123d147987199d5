import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup } from 'node:dns';
import type { LookupFunction } from 'node:net';

/**
 * Outbound SSRF protection for partner endpoints: which URLs may be registered and which addresses a delivery may
 * connect to. The URL is checked when an admin registers it; the address is checked again at connect time (the
 * resolved one, not the name), so a name that later resolves to an internal address (DNS rebinding) is refused too.
 */

export interface AddressPolicy {
  /** http:// to a loopback address (development and tests). */
  allowLoopbackHttp: boolean;
  /** Private networks (RFC 1918, CGNAT, unique local IPv6). */
  allowPrivateNetworks: boolean;
}

const list = (entries: readonly [string, number, 'ipv4' | 'ipv6'][]): BlockList => {
  const b = new BlockList();
  for (const [net, prefix, type] of entries) b.addSubnet(net, prefix, type);
  return b;
};

const LOOPBACK = list([['127.0.0.0', 8, 'ipv4'], ['::1', 128, 'ipv6']]);
const PRIVATE = list([
  ['10.0.0.0', 8, 'ipv4'], ['172.16.0.0', 12, 'ipv4'], ['192.168.0.0', 16, 'ipv4'], ['100.64.0.0', 10, 'ipv4'], ['fc00::', 7, 'ipv6'],
]);
/** Never reachable, whatever the settings: link-local (cloud metadata at 169.254.169.254), unspecified, multicast, reserved. */
const NEVER = list([
  ['0.0.0.0', 8, 'ipv4'], ['169.254.0.0', 16, 'ipv4'], ['192.0.0.0', 24, 'ipv4'], ['198.18.0.0', 15, 'ipv4'], ['224.0.0.0', 4, 'ipv4'],
  ['240.0.0.0', 4, 'ipv4'], ['::', 128, 'ipv6'], ['fe80::', 10, 'ipv6'], ['ff00::', 8, 'ipv6'], ['64:ff9b::', 96, 'ipv6'],
]);

/** An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is judged as the IPv4 address it carries. */
function normalize(address: string): { address: string; type: 'ipv4' | 'ipv6' } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return { address: mapped[1], type: 'ipv4' };
  return { address, type: isIP(address) === 6 ? 'ipv6' : 'ipv4' };
}

export type AddressClass = 'public' | 'loopback' | 'private' | 'forbidden';

export function classifyAddress(raw: string): AddressClass {
  const { address, type } = normalize(raw);
  if (isIP(address) === 0) return 'forbidden';
  if (LOOPBACK.check(address, type)) return 'loopback';
  if (NEVER.check(address, type)) return 'forbidden';
  if (PRIVATE.check(address, type)) return 'private';
  return 'public';
}

/** Why an address may not be connected to, or null when it may. */
export function addressRefusal(address: string, policy: AddressPolicy): string | null {
  switch (classifyAddress(address)) {
    case 'public':
      return null;
    case 'loopback':
      return policy.allowLoopbackHttp ? null : 'is a loopback address';
    case 'private':
      return policy.allowPrivateNetworks ? null : 'is a private network address';
    case 'forbidden':
      return 'is not a routable public address';
  }
}

const LOOPBACK_NAMES = new Set(['localhost', 'localhost.']);
const bare = (hostname: string) => hostname.replace(/^\[|\]$/g, '');

/**
 * Checks a URL as registered: https only (http only to loopback with `allowLoopbackHttp`), no credentials in it, and
 * a literal address must pass `addressRefusal`. Returns the normalized URL, or the reason it is refused.
 */
export function checkEndpointUrl(raw: string, policy: AddressPolicy): { ok: true; url: string } | { ok: false; reason: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'is not a URL' };
  }
  if (url.username || url.password) return { ok: false, reason: 'must not carry credentials' };
  if (raw.length > 2048) return { ok: false, reason: 'is longer than 2048 characters' };
  const host = bare(url.hostname);
  const literal = isIP(host) !== 0;
  const loopbackName = LOOPBACK_NAMES.has(host.toLowerCase());
  if (url.protocol === 'http:') {
    const loopback = loopbackName || (literal && classifyAddress(host) === 'loopback');
    if (!(policy.allowLoopbackHttp && loopback)) return { ok: false, reason: 'must use https (http only to a loopback address in development)' };
  } else if (url.protocol !== 'https:') {
    return { ok: false, reason: 'must use https' };
  }
  if (loopbackName && !policy.allowLoopbackHttp) return { ok: false, reason: 'is a loopback address' };
  if (literal) {
    const refusal = addressRefusal(host, policy);
    if (refusal) return { ok: false, reason: `host ${refusal}` };
  }
  url.hash = '';
  return { ok: true, url: url.toString() };
}

/**
 * A `lookup` for sockets that resolves as usual and then refuses addresses the policy forbids: the check happens on
 * the address actually connected to. (A literal IP in the URL skips lookup; `checkEndpointUrl` and the sender check
 * those.)
 */
export function guardedLookup(policy: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const allowed = addresses.filter((a) => addressRefusal(a.address, policy) === null);
      if (allowed.length === 0) {
        const refused = Object.assign(new Error(`${hostname} resolves only to addresses partner webhooks may not reach`), { code: 'ESSRF' });
        return callback(refused, '', 0);
      }
      if (options.all) return callback(null, allowed);
      const first = allowed[0];
      return callback(null, first?.address ?? '', first?.family ?? 4);
    });
  };
}
