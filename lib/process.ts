/** Process plumbing shared by every entry point (gateway, subgraphs, workers, CLIs). */

/** Runs an entry point; a failure prints its message (no stack) and exits non-zero. */
export function runMain(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

/** Runs `stop` once on SIGTERM or SIGINT (drain servers, stop workers, close pools), then exits. */
export function onShutdown(stop: () => Promise<void>): void {
  let stopping = false;
  const handle = () => {
    if (stopping) return;
    stopping = true;
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', handle);
  process.once('SIGINT', handle);
}
