import type { GraphQLError } from 'graphql';
import { fieldError } from '../../lib/errors';
import type { Principal } from '../../lib/auth/principal';

export interface SlotLimits {
  perConnection: number;
  perPrincipal: number;
  perTenant: number;
}

/** One running subscription's share of the limits; `release` is idempotent (complete, return and close all call it). */
export interface Slot {
  release(): void;
}

const refuse = (message: string) => fieldError('SUBSCRIPTION_LIMIT', message);

/**
 * Counts running subscriptions per principal (tenant, kind and subject) and per tenant on this instance, so one token
 * cannot take every slot of its tenant. Counters at zero are dropped, so the maps hold only who is subscribed.
 */
export function subscriptionSlots(limits: SlotLimits) {
  const perTenant = new Map<string, number>();
  const perPrincipal = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, delta: number) => {
    const n = (map.get(key) ?? 0) + delta;
    if (n > 0) map.set(key, n);
    else map.delete(key);
  };
  return {
    /** Running subscriptions on this instance (the /metrics gauge). */
    running: () => [...perTenant.values()].reduce((a, b) => a + b, 0),
    /** A slot for one more subscription of `principal` on a connection already running `onConnection`, or the refusal. */
    acquire(principal: Principal, onConnection: number): Slot | GraphQLError {
      const who = JSON.stringify([principal.tenant, principal.kind, principal.sub]);
      if (onConnection >= limits.perConnection) return refuse(`At most ${limits.perConnection} subscriptions per connection`);
      if ((perPrincipal.get(who) ?? 0) >= limits.perPrincipal) return refuse(`At most ${limits.perPrincipal} subscriptions per token subject`);
      if ((perTenant.get(principal.tenant) ?? 0) >= limits.perTenant) return refuse(`At most ${limits.perTenant} subscriptions per tenant`);
      add(perPrincipal, who, 1);
      add(perTenant, principal.tenant, 1);
      let held = true;
      return {
        release() {
          if (!held) return;
          held = false;
          add(perPrincipal, who, -1);
          add(perTenant, principal.tenant, -1);
        },
      };
    },
  };
}
