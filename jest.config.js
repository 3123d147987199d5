/** @type {import('jest').Config} */
module.exports = {
  // jest's node environment; with TEST_HANDLES_LOG=<file> it logs, after each file, what still keeps the worker alive.
  testEnvironment: '<rootDir>/test/support/handles-environment.js',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Transpile only (types are checked by `npm run typecheck`); CommonJS output for jest's module system.
  // isolatedModules in the tsconfig (ts-jest 29.4 deprecates its own option of that name, and warned about it per worker).
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: { module: 'commonjs', moduleResolution: 'node10', target: 'es2022', esModuleInterop: true, isolatedModules: true } }] },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  // Fails the run if it left a Redis key without TTL (every test key carries the run's id: test/support/services.ts).
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  // A green file prints nothing, a failing one prints in full, then the totals (--verbose, or one file: everything).
  reporters: ['<rootDir>/test/support/quiet-reporter.js', 'summary'],
  testTimeout: 60000,
  maxWorkers: 2,
  // A worker whose heap passed this after a file is replaced: every file loads the product anew and a worker kept
  // 1-2 GB by the end of a run; freeing that much at exit took longer than the 500 ms jest allows a worker to exit
  // (see test/support/handles-environment.js).
  workerIdleMemoryLimit: '350MB',
};
