import { execFileSync } from 'node:child_process';
import path from 'node:path';

// jest's module registry ignores require.cache, so the check runs in a plain Node process as the gateway does.
const PROBE = `
  require('./gateway/server.ts');
  const internals = require('@apollo/federation-internals');
  const definitions = require('@apollo/federation-internals/dist/definitions');
  const names = Object.keys(internals);
  const getters = names.filter((n) => typeof Object.getOwnPropertyDescriptor(internals, n).get === 'function');
  process.stdout.write(JSON.stringify({
    exports: names.length,
    getters: getters.length,
    sameSchema: internals.Schema === definitions.Schema,
    gatewayLoads: typeof require('@apollo/gateway').ApolloGateway,
  }));
`;

describe('flattened re-exports of @apollo/federation-internals', () => {
  it('leaves plain properties holding the package\'s own exports once the gateway module is loaded', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', PROBE], { cwd: path.join(__dirname, '..'), encoding: 'utf8' });
    const probe = JSON.parse(out) as { exports: number; getters: number; sameSchema: boolean; gatewayLoads: string };
    expect(probe.exports).toBeGreaterThan(100);
    expect(probe.getters).toBe(0);
    expect(probe.sameSchema).toBe(true);
    expect(probe.gatewayLoads).toBe('function');
  });
});
