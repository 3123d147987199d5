import { redisEventBus } from '../lib/events';
import { TEST_REDIS_URL, testKeyPrefix } from './support/services';

/**
 * The Redis event bus shares one SUBSCRIBE per channel between its callers. A subscriber with a resume cursor reads
 * the ledger once its subscribe resolves, so resolving before Redis confirmed the SUBSCRIBE could lose an event
 * published in between: every caller, not only the first, waits for the confirmation.
 */
describe('the Redis event bus', () => {
  it("resolves a second subscribe to a channel only once the channel's SUBSCRIBE is confirmed; both then get each message once", async () => {
    const bus = redisEventBus(TEST_REDIS_URL, testKeyPrefix(`event-bus-${process.pid}`));
    try {
      const got: Record<'a' | 'b', string[]> = { a: [], b: [] };
      let both: () => void = () => undefined;
      const delivered = new Promise<void>((resolve) => (both = resolve));
      const handler = (who: 'a' | 'b') => (message: string) => {
        got[who].push(message);
        if (got.a.length > 0 && got.b.length > 0) both();
      };
      const order: string[] = [];
      // The first caller sends the SUBSCRIBE and waits for Redis; the second, on the same channel, must wait as long.
      const first = bus.subscribe('channel-1', handler('a')).then((off) => (order.push('a'), off));
      const second = bus.subscribe('channel-1', handler('b')).then((off) => (order.push('b'), off));
      const offs = await Promise.all([first, second]);
      expect(order).toEqual(['a', 'b']);
      await bus.publish('channel-1', 'once');
      await delivered;
      expect(got).toEqual({ a: ['once'], b: ['once'] });
      for (const off of offs) await off();
    } finally {
      await bus.close();
    }
  });
});
