import { STRAY_KEYS_AT_START, refuseStrays, strayTestKeys, sweepRunKeys } from './redis-keys';

/**
 * After the whole run, nothing of it may stay in the shared Redis:
 * - this run's keys (`test:<run>:...`) are deleted; any without a TTL fails the run, named, so the code that wrote
 *   it can be found (keys with a TTL would expire by themselves: tests need not clean their caches);
 * - a `test:` key without a run id (a test that built its prefix by hand instead of with `testKeyPrefix()`) that was
 *   not there when the run started fails the run, named, and is deleted: the sweep above cannot tell it from another
 *   run's, so it would outlive the run. (A concurrent run of code older than this check can write such keys too; the
 *   names say which test to look at.)
 */
export default async function globalTeardown(): Promise<void> {
  const run = process.env['TEST_RUN_ID'];
  if (!run) return;
  const problems: string[] = [];
  const fail = (err: unknown) => problems.push(err instanceof Error ? err.message : String(err));
  await sweepRunKeys(run).catch(fail);
  const atStart = new Set(Reflect.get(globalThis, STRAY_KEYS_AT_START) as readonly string[] | undefined);
  await refuseStrays((await strayTestKeys()).filter((k) => !atStart.has(k))).catch(fail);
  if (problems.length) throw new Error(problems.join('\n'));
}
