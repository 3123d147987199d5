import type { Logger } from '../logger';
import type { Redis } from '../redis';

/**
 * Remembers the ids of single-use claim headers (writes) until they expire. `claim` resolves true the first time an
 * id is presented and false on any later presentation, so a captured write header runs its write at most once.
 */
export interface ReplayGuard {
  /** `expiresAt`: seconds since epoch after which the header is refused anyway (the id need not be kept longer). */
  claim(jti: string, expiresAt: number): Promise<boolean>;
}

/** One instance's memory: enough for one subgraph instance, blind to the others (the fallback below). */
export function localReplayGuard(now: () => number = () => Math.floor(Date.now() / 1000)): ReplayGuard {
  const used = new Map<string, number>();
  return {
    async claim(jti, expiresAt) {
      const t = now();
      // Headers all live the same few seconds, so insertion order is expiry order: stop at the first live one.
      for (const [id, exp] of used) {
        if (exp >= t) break;
        used.delete(id);
      }
      if (used.has(jti)) return false;
      used.set(jti, expiresAt);
      return true;
    },
  };
}

export interface SharedReplayGuardOptions {
  logger: Logger;
  /** Used ids kept by this instance: checked first, and the only record while Redis cannot be reached. */
  local?: ReplayGuard;
}

/**
 * The used ids shared by every subgraph instance through Redis (`SET NX` with the header's remaining life as TTL), so
 * a captured write header is accepted at most once across instances. Each id is also kept locally first, so a
 * replay on the same instance is refused whatever Redis does.
 *
 * Fallback while Redis cannot be reached (the client fails fast, no offline queue): the instance decides from its own
 * record and logs a warning, i.e. for the length of the outage the bound is what it was with per-instance sets: one
 * use per instance within the header's 10 s life. Writes keep working; refusing every write while Redis is away
 * would turn a cache outage into a write outage.
 */
export function sharedReplayGuard(redis: Redis, opts: SharedReplayGuardOptions): ReplayGuard {
  const local = opts.local ?? localReplayGuard();
  let warnedAt = 0;
  return {
    async claim(jti, expiresAt) {
      if (!(await local.claim(jti, expiresAt))) return false;
      const ttl = Math.max(1, expiresAt - Math.floor(Date.now() / 1000));
      try {
        return (await redis.set(`claims-jti:${jti}`, '1', 'EX', ttl, 'NX')) === 'OK';
      } catch (err) {
        if (Date.now() - warnedAt > 10_000) {
          warnedAt = Date.now();
          opts.logger.warn({ err }, 'replay guard: Redis unreachable, single-use claim ids are checked on this instance only');
        }
        return true;
      }
    },
  };
}
