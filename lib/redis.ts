import Redis, { type RedisOptions } from 'ioredis';

export type { Redis };

/**
 * The one ioredis factory. `purpose` picks the settings that matter:
 * - `command`: fails fast while Redis is down (no offline queue, one retry) so callers fall back at once
 *   (cache misses, insurance rate limiter) instead of piling up requests; reconnects by itself.
 * - `subscriber`: a connection in subscribe mode, which may queue while reconnecting.
 */
export function createRedis(url: string, keyPrefix: string, purpose: 'command' | 'subscriber' = 'command'): Redis {
  const options: RedisOptions = {
    keyPrefix,
    lazyConnect: false,
    enableOfflineQueue: purpose === 'subscriber',
    maxRetriesPerRequest: purpose === 'subscriber' ? null : 1,
    connectTimeout: 2000,
    // Back off up to 2 s between reconnects, forever: Redis coming back must heal the gateway without a restart.
    retryStrategy: (times) => Math.min(times * 100, 2000),
  };
  const client = new Redis(url, options);
  // Connection errors are expected while Redis is down; the health of each feature reports them.
  client.on('error', () => undefined);
  return client;
}

/** Waits up to `ms` for the first connection; a Redis that is down at start only degrades features, never blocks. */
export async function redisReady(client: Redis, ms = 2000): Promise<boolean> {
  if (client.status === 'ready') return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      resolve(false);
    }, ms);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    client.once('ready', onReady);
  });
}
