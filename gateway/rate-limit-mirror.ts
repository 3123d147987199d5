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
  /** Decided here while the store was unreachable: the store may have lost its count (a restarted Redis). */
  offline: boolean;
  /** The smallest cost refused from this view in its window (Infinity if none): what no longer fits. */
  minRefused: number;
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
 *
 * While the store is unreachable every key is decided from its view, which keeps counting (the budget does not
 * restart when Redis goes away); the points stay unsent. The store is asked again every `freshMs`. When it answers,
 * the unsent points go to it, and where its count is below what this instance knew (a Redis that came back empty),
 * the difference is spent too, so the budget does not restart when Redis returns either. Bound: during an outage
 * each instance enforces only its own view, so N instances together may admit up to N times the budget left when
 * Redis went away (a key an instance never saw gets a whole budget there); after it, the store holds at least the
 * largest count any one instance knew.
 */
export class MirroredLimiter {
  private readonly views = new Map<string, View>();
  private timer: NodeJS.Timeout | null = null;
  /** Until then the store is not asked (it failed last time): keys are decided locally. */
  private storeDownUntil = 0;
  /** The store's last answer was a failure. */
  private storeDown = false;

  constructor(
    private readonly store: RateLimiterAbstract,
    private readonly opts: MirrorOptions,
  ) {}

  get points(): number {
    return this.store.points;
  }

  /**
   * What this instance last knew of `key` without asking anyone: the ms left in the window when that says the budget
   * is spent, null otherwise (a cheap pre-check before any work is done on a request).
   */
  knownSpent(key: string): number | null {
    const view = this.views.get(key);
    const left = view ? view.resetAt - Date.now() : 0;
    if (!view || left <= 0) return null;
    // Spent, or too little left for the smallest cost this view already had to refuse (a flood repeats its requests).
    const spent = view.consumed >= this.points || (Number.isFinite(view.minRefused) && view.consumed + view.minRefused > this.points);
    return spent ? left : null;
  }

  /** Resolves with the spend, or rejects with a RateLimiterRes when the budget is spent (as the store does). */
  async consume(key: string, cost: number): Promise<RateLimiterRes> {
    const now = Date.now();
    const view = this.views.get(key);
    const storeDown = now < this.storeDownUntil;
    // A view that says "spent" is right however old (within a window counts only grow), and admitting on a fresh one
    // or while the store is away is the view's job.
    const decidable = view && now < view.resetAt && (storeDown || now - view.syncedAt < this.opts.freshMs || view.consumed + cost > this.points);
    if (view && decidable) return this.local(view, cost);
    if (storeDown) return this.local(this.offlineView(key, view), cost);
    return this.fromStore(key, cost, view);
  }

  /** Sends every local spend to the store now (also on shutdown, so no spend is lost). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // An offline view with nothing unsent still asks the store (0 points) so that its count is reconciled.
    const pending = [...this.views].filter(([, v]) => v.unsent > 0 || v.offline);
    // While the store is thought down, one key probes it first: not a failing command per key every pause.
    const probe = this.storeDown ? pending.shift() : undefined;
    if (probe && !(await this.sendPending(...probe))) return;
    await Promise.all(pending.map(([key, view]) => this.sendPending(key, view)));
  }

  /** Sends a view's unsent points; false when the store could not be reached (they stay unsent). */
  private async sendPending(key: string, view: View): Promise<boolean> {
    const points = view.unsent;
    view.unsent = 0;
    try {
      await this.send(key, view, points);
      return true;
    } catch (err) {
      // A refusal is an answer: the store counted the points and the view was refreshed.
      if (err instanceof RateLimiterRes) return true;
      view.unsent += points;
      view.offline = true;
      this.schedule();
      return false;
    }
  }

  private local(view: View, cost: number): RateLimiterRes {
    const msBeforeNext = view.resetAt - Date.now();
    if (view.consumed + cost > this.points) {
      view.minRefused = Math.min(view.minRefused, cost);
      throw new RateLimiterRes(0, msBeforeNext, view.consumed, false);
    }
    view.consumed += cost;
    view.unsent += cost;
    this.schedule();
    return new RateLimiterRes(this.points - view.consumed, msBeforeNext, view.consumed, false);
  }

  private schedule(): void {
    const delay = Math.max(this.opts.flushMs, this.storeDownUntil - Date.now());
    this.timer ??= setTimeout(() => void this.flush(), delay).unref();
  }

  /** The view to decide on while the store is away: the last one known if its window still runs, else a new window. */
  private offlineView(key: string, view: View | undefined): View {
    const now = Date.now();
    if (view && now < view.resetAt) return view;
    const fresh: View = { consumed: 0, unsent: view?.unsent ?? 0, inFlight: 0, resetAt: now + this.store.duration * 1000, syncedAt: 0, offline: true, minRefused: Infinity };
    this.remember(key, fresh);
    return fresh;
  }

  private async fromStore(key: string, cost: number, view: View | undefined): Promise<RateLimiterRes> {
    // Points spent here under an expired view go along with this request's own.
    const carried = view?.unsent ?? 0;
    if (view) view.unsent = 0;
    try {
      return await this.send(key, view, cost + carried);
    } catch (err) {
      if (err instanceof RateLimiterRes) throw err;
      // The store is away: decide on what this instance knows, and keep the carried points for later.
      const offline = this.offlineView(key, this.views.get(key));
      offline.unsent += carried;
      return this.local(offline, cost);
    }
  }

  private async send(key: string, view: View | undefined, points: number): Promise<RateLimiterRes> {
    if (view) view.inFlight += points;
    let answer: RateLimiterRes;
    let refused = false;
    try {
      answer = await this.store.consume(key, points);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) {
        this.lost();
        throw rejection;
      }
      answer = rejection;
      refused = true;
    } finally {
      if (view) view.inFlight -= points;
    }
    this.storeDown = false;
    this.record(key, answer);
    if (refused) throw answer;
    return answer;
  }

  /**
   * The store failed. On the first failure of an outage every live view is marked: the store may come back without
   * the counts (a restarted Redis), and each such view is reconciled with it once it answers again.
   */
  private lost(): void {
    this.storeDownUntil = Date.now() + this.opts.freshMs;
    if (this.storeDown) return;
    this.storeDown = true;
    const now = Date.now();
    for (const view of this.views.values()) if (now < view.resetAt) view.offline = true;
    this.schedule();
  }

  private record(key: string, res: RateLimiterRes): void {
    const now = Date.now();
    let view = this.views.get(key);
    if (!view) {
      view = { consumed: 0, unsent: 0, inFlight: 0, resetAt: 0, syncedAt: 0, offline: false, minRefused: Infinity };
      this.remember(key, view);
    }
    const known = view.consumed - view.inFlight - view.unsent;
    if (view.offline && now < view.resetAt && res.consumedPoints < known) {
      // The store came back with less than this instance counted (it lost its data): spend the difference there.
      view.unsent += known - res.consumedPoints;
      this.schedule();
    }
    view.offline = false;
    if (now >= view.resetAt) view.minRefused = Infinity;
    view.consumed = res.consumedPoints + view.inFlight + view.unsent;
    view.resetAt = now + res.msBeforeNext;
    view.syncedAt = now;
  }

  private remember(key: string, view: View): void {
    if (this.views.size >= MAX_KEYS) {
      // Send what the views still hold before forgetting them (flush sends synchronously, then awaits).
      void this.flush();
      this.views.clear();
    }
    this.views.set(key, view);
  }
}
