import { EventEmitter } from 'node:events';
import { type Redis, createRedis } from './redis';

/**
 * Fan-out of status events between processes: Redis pub/sub when REDIS_URL is set, an in-process emitter otherwise
 * (single instance only). Channels are per tenant, so a subscriber only ever receives its own tenant's events.
 */
export interface EventBus {
  publish(channel: string, message: string): Promise<void>;
  /** Calls `handler` for each message on `channel` until the returned function is called. */
  subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export const syncChannel = (tenant: string): string => `sync-events:${tenant}`;

export function memoryEventBus(): EventBus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    async publish(channel, message) {
      emitter.emit(channel, message);
    },
    async subscribe(channel, handler) {
      emitter.on(channel, handler);
      return async () => void emitter.off(channel, handler);
    },
    async close() {
      emitter.removeAllListeners();
    },
  };
}

export function redisEventBus(url: string, keyPrefix: string): EventBus {
  const publisher: Redis = createRedis(url, keyPrefix);
  const subscriber: Redis = createRedis(url, keyPrefix, 'subscriber');
  const local = memoryEventBus();
  const counts = new Map<string, number>();
  /** The channel's SUBSCRIBE: every caller waits for it, not only the first (a later one could miss events otherwise). */
  const subscribed = new Map<string, Promise<unknown>>();
  // ioredis does not apply keyPrefix to channels; prefix them here so deployments sharing a Redis stay apart.
  const full = (channel: string) => `${keyPrefix}${channel}`;
  subscriber.on('message', (channel: string, message: string) => {
    void local.publish(channel.slice(keyPrefix.length), message);
  });
  return {
    async publish(channel, message) {
      await publisher.publish(full(channel), message);
    },
    async subscribe(channel, handler) {
      const n = counts.get(channel) ?? 0;
      counts.set(channel, n + 1);
      if (n === 0) subscribed.set(channel, subscriber.subscribe(full(channel)));
      try {
        await subscribed.get(channel);
      } catch (err) {
        const left = (counts.get(channel) ?? 1) - 1;
        if (left === 0) {
          counts.delete(channel);
          subscribed.delete(channel);
        } else counts.set(channel, left);
        throw err;
      }
      const off = await local.subscribe(channel, handler);
      return async () => {
        await off();
        const left = (counts.get(channel) ?? 1) - 1;
        counts.set(channel, left);
        if (left === 0) {
          counts.delete(channel);
          subscribed.delete(channel);
          await subscriber.unsubscribe(full(channel)).catch(() => undefined);
        }
      };
    },
    async close() {
      publisher.disconnect();
      subscriber.disconnect();
      await local.close();
    },
  };
}

export function createEventBus(redisUrl: string | undefined, keyPrefix: string): EventBus {
  return redisUrl ? redisEventBus(redisUrl, keyPrefix) : memoryEventBus();
}
