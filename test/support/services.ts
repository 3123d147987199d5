import net from 'node:net';

export const TEST_POSTGRES_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

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
