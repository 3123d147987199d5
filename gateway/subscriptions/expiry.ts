/** setTimeout's longest delay: anything longer (24.8 days) fires at once, with a TimeoutOverflowWarning. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * Calls `fn` at `atMs` (epoch ms), however far away: a long wait is a chain of maximal timers. Timers are unref'd
 * (a pending expiry never keeps the process alive). Returns the cancel function.
 */
export function at(atMs: number, fn: () => void): () => void {
  let timer: NodeJS.Timeout;
  const arm = () => {
    const left = atMs - Date.now();
    timer = left > MAX_DELAY_MS ? setTimeout(arm, MAX_DELAY_MS) : setTimeout(fn, Math.max(0, left));
    timer.unref();
  };
  arm();
  return () => clearTimeout(timer);
}
