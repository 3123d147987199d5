import { syncChannel } from '../../lib/events';
import type { Stack } from '../../scripts/stack';

/**
 * Resolves once `check` holds. It is re-evaluated on every sync event of the tenant (the worker publishes each state
 * change), so tests wait on the engine's own signal instead of sleeping; `timeoutMs` only bounds a broken run.
 */
export async function waitForSync<T>(stack: Stack, tenants: string | readonly string[], check: () => Promise<T | null | undefined | false>, timeoutMs = 20_000): Promise<T> {
  let resolveWake: () => void = () => undefined;
  let wake = new Promise<void>((r) => (resolveWake = r));
  const offs = await Promise.all((typeof tenants === 'string' ? [tenants] : tenants).map((t) => stack.bus.subscribe(syncChannel(t), () => resolveWake())));
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const value = await check();
      if (value) return value;
      if (Date.now() > deadline) throw new Error('condition not reached before the timeout');
      const timer = new Promise<void>((r) => setTimeout(r, Math.max(0, deadline - Date.now())).unref());
      await Promise.race([wake, timer]);
      wake = new Promise<void>((r) => (resolveWake = r));
    }
  } finally {
    for (const off of offs) await off();
  }
}
