import { runSubgraph } from '../runtime/main';

runSubgraph('sync').catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
