/**
 * Resolves with the first truthy value `probe` returns (a throw counts as "not yet"), re-probing with a short backoff
 * until `timeoutMs`. For conditions with no event to wait on: a dependency coming back after a restart.
 */
export async function eventually<T>(probe: () => Promise<T | null | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = 'never true';
  for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not reached within ${timeoutMs} ms (last: ${last instanceof Error ? last.message : String(last)})`);
    await new Promise((r) => setTimeout(r, delay));
  }
}
