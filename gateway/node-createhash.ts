import { createHash } from 'node:crypto';
import path from 'node:path';

/**
 * `@apollo/utils.createhash`'s createHash runs `module.require("crypto")` on every call, to stay loadable outside
 * Node. A built-in module is never put in the require cache's per-parent shortcut, so each call walks the loader's
 * `_resolveFilename` (with tsx's resolve hook in front, as the gateway runs): Apollo Server hashes every query text
 * (`computeQueryHash`) and @apollo/gateway hashes it again for its plan cache key, so that was two loader walks per
 * request, about 2 % of the gateway's CPU on the bench mix (bench/GATEWAYS.md profile). Both copies of the package (v2
 * for @apollo/gateway, v3 nested under @apollo/server) get Node's createHash directly; callers read the export at each
 * call (`(0, utils_createhash_1.createHash)(…)`), so replacing it before the first request is enough. Same hashes.
 */
const MARK = Symbol.for('sor.nodeCreateHash');
type CreateHash = (kind: string) => ReturnType<typeof createHash>;

const direct: CreateHash = (kind) => createHash(kind);
Object.defineProperty(direct, MARK, { value: true });

function install(target: unknown): void {
  if (typeof target !== 'object' || target === null) return;
  const descriptor = Object.getOwnPropertyDescriptor(target, 'createHash');
  if (!descriptor?.writable || typeof descriptor.value !== 'function' || MARK in descriptor.value) return;
  (target as { createHash: CreateHash }).createHash = direct;
}

const PACKAGE = '@apollo/utils.createhash';
for (const user of ['@apollo/gateway', '@apollo/server']) {
  // Each user's own copy: resolved from where that package lives.
  const from = path.dirname(require.resolve(user));
  install(require(require.resolve(PACKAGE, { paths: [from] })));
}
