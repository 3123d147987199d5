/**
 * @apollo/federation-internals re-exports its submodules through TypeScript's `__createBinding`, which turns every
 * export into a getter, and @apollo/gateway reads them on each call (`(0, federation_internals_1.fn)(…)`): those
 * getters were 8.5 % of the gateway's CPU under load (bench/GATEWAYS.md). Loading the package once and leaving a plain
 * copy of its exports in the require cache, before @apollo/gateway and @apollo/query-planner load, turns each of those
 * reads into a property load. The exports are functions, classes and constants set while the package loads, so the
 * copy holds the same values. Where the require cache cannot be written (jest's module registry) nothing changes.
 */
const PACKAGE = '@apollo/federation-internals';

function flattenReexports(): void {
  const loaded: unknown = require(PACKAGE);
  const entry = require.cache[require.resolve(PACKAGE)];
  if (!entry || typeof loaded !== 'object' || loaded === null) return;
  const copy: Record<string, unknown> = { ...loaded };
  Object.defineProperty(copy, '__esModule', { value: true });
  entry.exports = copy;
}

flattenReexports();
