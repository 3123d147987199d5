import type { Queryable } from '../../lib/db/db';
import { type RunningServer, listen, sendJson } from '../../lib/http/server';
import { type Readiness, sendHealth } from '../../lib/telemetry/health';
import type { Worker } from './engine/worker';

export interface WorkerOpsOptions {
  db: Queryable;
  worker: Pick<Worker, 'liveLoops'>;
  host: string;
  port: number;
}

/** Ready when the ledger's database answers and the worker's claim loops are running. */
export function workerReadiness(db: Queryable, worker: Pick<Worker, 'liveLoops'>): () => Promise<Readiness> {
  return async () => {
    const database = await db.query('SELECT 1 AS ok').then(() => 'ok', () => 'unreachable');
    const loops = worker.liveLoops() > 0 ? 'ok' : 'stopped';
    return { ready: database === 'ok' && loops === 'ok', checks: { database, loops } };
  };
}

/** A sync worker's operational endpoints: /healthz, /readyz and /metrics (it serves no GraphQL). */
export function startWorkerOps(opts: WorkerOpsOptions): Promise<RunningServer> {
  const ready = workerReadiness(opts.db, opts.worker);
  return listen(async (req, res) => {
    const pathname = (req.url ?? '/').split('?')[0] ?? '/';
    if (await sendHealth(pathname, res, ready)) return;
    sendJson(res, 404, { errors: [{ message: 'Not found', extensions: { code: 'NOT_FOUND' } }] });
  }, opts.host, opts.port);
}
