import { type RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';

/** What this instance knows of one key's counter in the shared store. */
interface View {
  /** The store's count at its last answer, plus the points this instance spent since (sent or not). */
  consumed: number;
  /** Points spent here and not yet sent to the store. */
  unsent: number;
  /** Points sent to the store and not yet answered. */
  inFlight: number;
  resetAt: number;
  syncedAt: number;
}

export interface MirrorOptions {
  /** How long after the store's last answer a key may still be decided locally. */
  freshMs: number;
  /** Local spends are sent to the store in one `consume` per key at most this often. */
  flushMs: number;
}

const MAX_KEYS = 100_000;

/**
 * A shared (Redis) limiter with a local view of each key's counter, so a busy key costs no round trip.
 *
 * A key this instance has not heard about from the store within `freshMs` is decided by the store itself (one
 * awaited `consume`), exactly as without the view. A key with a fresh view is decided locally: refused at once when
 * the view says the budget is spent, otherwise admitted; its points are sent to the store within `flushMs` (one
 * `consume` per key for everything spent meanwhile), and the store's answer refreshes the view. The store's counter
 * stays exact; the view lags behind it only by what other instances spent since its last answer (about `flushMs` on
 * a busy key, at most `freshMs`), which bounds how far instances together can go over a budget before every one of
 * them refuses.
 */
export class MirroredLimiter {
  private readonly views = new Map<string, View>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: RateLimiterAbstract,
    private readonly opts: MirrorOptions,
  ) {}

  get points(): number {
    return this.store.points;
  }

  /** Resolves with the spend, or rejects with a RateLimiterRes when the budget is spent (as the store does). */
  async consume(key: string, cost: number): Promise<RateLimiterRes> {
    const now = Date.now();
    const view = this.views.get(key);
    if (!view || now >= view.resetAt || now - view.syncedAt >= this.opts.freshMs) return this.fromStore(key, cost, view);
    const msBeforeNext = view.resetAt - now;
    if (view.consumed + cost > this.points) throw new RateLimiterRes(0, msBeforeNext, view.consumed, false);
    view.consumed += cost;
    view.unsent += cost;
    this.timer ??= setTimeout(() => this.flush(), this.opts.flushMs).unref();
    return new RateLimiterRes(this.points - view.consumed, msBeforeNext, view.consumed, false);
  }

  /** Sends every local spend to the store now (also on shutdown, so no spend is lost). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const sent: Promise<unknown>[] = [];
    for (const [key, view] of this.views) {
      if (view.unsent === 0) continue;
      sent.push(this.send(key, view, view.unsent).catch(() => undefined));
      view.unsent = 0;
    }
    await Promise.all(sent);
  }

  private async fromStore(key: string, cost: number, view: View | undefined): Promise<RateLimiterRes> {
    // Points spent here under an expired view go along with this request's own.
    const carried = view?.unsent ?? 0;
    if (view) view.unsent = 0;
    return this.send(key, view, cost + carried);
  }

  private async send(key: string, view: View | undefined, points: number): Promise<RateLimiterRes> {
    if (view) view.inFlight += points;
    let answer: RateLimiterRes;
    let refused = false;
    try {
      answer = await this.store.consume(key, points);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      answer = rejection;
      refused = true;
    } finally {
      if (view) view.inFlight -= points;
    }
    this.record(key, answer);
    if (refused) throw answer;
    return answer;
  }

  private record(key: string, res: RateLimiterRes): void {
    const now = Date.now();
    let view = this.views.get(key);
    if (!view) {
      if (this.views.size >= MAX_KEYS) {
        // Send what the views still hold before forgetting them (flush sends synchronously, then awaits).
        void this.flush();
        this.views.clear();
      }
      view = { consumed: 0, unsent: 0, inFlight: 0, resetAt: 0, syncedAt: 0 };
      this.views.set(key, view);
    }
    view.consumed = res.consumedPoints + view.inFlight + view.unsent;
    view.resetAt = now + res.msBeforeNext;
    view.syncedAt = now;
  }
}
