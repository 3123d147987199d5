import { randomBytes } from 'node:crypto';
import net from 'node:net';

export const TEST_POSTGRES_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** A fresh test run id: `run-<time36>-<hex>`, a shape no other `test:` key segment has (RUN_ID_SHAPE). */
export function newRunId(): string {
  return `run-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}
/**
 * A run id, this code's or an earlier version's (`r<time36><hex>`, `solo`): runs of older checkouts may share the
 * Redis, and their keys are theirs to sweep, not strays of this run.
 */
export const RUN_ID_SHAPE = /^(run-[0-9a-z]+-[0-9a-f]{6}|r[0-9a-z]{8,9}[0-9a-f]{6}|solo)$/;

/** This run's id (set by global-setup, inherited by the workers); outside jest a fresh one per process. */
export const TEST_RUN_ID = process.env['TEST_RUN_ID'] ?? newRunId();

/**
 * The Redis key prefix for one test's keys: `test:<run>:<label>:`. Every test key in the shared Redis carries its run's
 * id, so global-teardown can find what this run left (and nothing of a concurrent run's).
 */
export function testKeyPrefix(label: string): string {
  return `test:${TEST_RUN_ID}:${label}:`;
}

/** Resolves when a TCP port accepts a connection; rejects with a message naming the service otherwise. */
export function requireService(name: string, url: string, hint: string): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    const fail = (reason: string) => {
      socket.destroy();
      reject(new Error(`${name} is required by the integration tests but is not reachable at ${hostname}:${port} (${reason}). ${hint}`));
    };
    socket.setTimeout(2000, () => fail('timeout'));
    socket.once('error', (err) => fail(err.message));
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
  });
}
