/** Gives back a replay permit; idempotent. */
export type Release = () => void;

export interface ReplayQueue {
  /** Resolves with a permit once fewer than `maxConcurrent` replays run; waiting tenants take turns. */
  acquire(tenant: string): Promise<Release>;
  /** Replays running and waiting now (metrics, bench, tests). */
  stats(): { running: number; waiting: number };
}

/**
 * Bounds how many ledger replays (reads of stored events for resuming subscribers) run at once on this instance, so
 * a reconnect storm (a deploy, a network blip: thousands of clients resuming with `after` at the same moment) becomes
 * a steady trickle of reads instead of thousands of concurrent queries on Postgres. Waiters are queued per tenant and
 * served round-robin over tenants, so one tenant's storm cannot starve another tenant's single resume.
 */
export function replayQueue(maxConcurrent: number): ReplayQueue {
  let running = 0;
  /** Tenants with waiters, in turn order; a Map keeps insertion order and moves a tenant to the back on re-insert. */
  const waiting = new Map<string, (() => void)[]>();
  let waiters = 0;

  const grant = (): Release => {
    running += 1;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      running -= 1;
      next();
    };
  };
  const next = () => {
    while (running < maxConcurrent && waiters > 0) {
      const [tenant, queue] = waiting.entries().next().value as [string, (() => void)[]];
      const wake = queue.shift();
      waiting.delete(tenant);
      // Back of the line for this tenant's next waiter: round-robin over tenants.
      if (queue.length > 0) waiting.set(tenant, queue);
      waiters -= 1;
      wake?.();
    }
  };
  return {
    stats: () => ({ running, waiting: waiters }),
    acquire(tenant) {
      if (running < maxConcurrent && waiters === 0) return Promise.resolve(grant());
      return new Promise<Release>((resolve) => {
        const queue = waiting.get(tenant) ?? [];
        queue.push(() => resolve(grant()));
        waiting.set(tenant, queue);
        waiters += 1;
      });
    },
  };
}
