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
  /**
   * One SUBSCRIBE per channel, shared by its subscribers: every caller waits for Redis to confirm it, not only the
   * first (a caller resolved earlier could read the ledger before its feed is live, and miss what is published
   * meanwhile); the last one to leave unsubscribes.
   */
  const channels = new Map<string, { holders: number; subscribed: Promise<unknown> }>();
  /** Gives up one hold on the channel's entry; true when it was the last (the entry is gone). */
  const leave = (channel: string, entry: { holders: number }): boolean => {
    entry.holders -= 1;
    if (entry.holders > 0) return false;
    if (channels.get(channel) === entry) channels.delete(channel);
    return true;
  };
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
      let entry = channels.get(channel);
      if (!entry) {
        entry = { holders: 0, subscribed: subscriber.subscribe(full(channel)) };
        channels.set(channel, entry);
      }
      entry.holders += 1;
      try {
        await entry.subscribed;
      } catch (err) {
        leave(channel, entry);
        throw err;
      }
      const off = await local.subscribe(channel, handler);
      const held = entry;
      return async () => {
        await off();
        if (leave(channel, held)) await subscriber.unsubscribe(full(channel)).catch(() => undefined);
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
