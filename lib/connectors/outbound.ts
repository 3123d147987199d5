/**
 * The one way a vendor adapter calls its vendor. The connection layer gives each connection an `Outbound` that
 * applies that connection's policies (timeout, circuit breaker, outbound rate limit, Retry-After); adapters wrap
 * every SDK call in `call` and never talk to the vendor otherwise.
 */
export interface Outbound {
  /**
   * Runs one vendor call. `operation` names it for breakers, metrics and logs (e.g. `customers.create`); `signal`
   * aborts when the call's time is up. Failures arrive as the errors of `./errors`.
   */
  call<T>(operation: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T>;
}

/** No policies at all: for unit tests of an adapter's mapping and for the reference stores. */
export const directOutbound: Outbound = {
  call: (_operation, fn) => fn(new AbortController().signal),
};
