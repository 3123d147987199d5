import { loadConfig } from '../lib/config';

/**
 * The container's HEALTHCHECK: GET /healthz on the port of the role this container runs. One image serves every role,
 * so the check asks each configured port in turn (a container listens on one of them) unless HEALTHCHECK_PORT names
 * it (the worker's is SYNC_WORKER_PORT); exit 0 when one answers 200, 1 otherwise. Node built-ins only: the runtime image has no curl.
 */
async function main(): Promise<number> {
  const config = loadConfig();
  const named = process.env.HEALTHCHECK_PORT;
  const ports = named ? [Number(named)] : [...Object.values(config.ports), config.metrics.workerPort];
  for (const port of ports) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return 0;
    } catch {
      // not this port
    }
  }
  process.stderr.write(`no /healthz answered 200 on port ${ports.join(', ')}\n`);
  return 1;
}

main().then((code) => process.exit(code), () => process.exit(1));
