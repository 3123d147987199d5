import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { waitForPort } from './redis-server';

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

/**
 * One service of the product as its own OS process (`tsx gateway/main.ts`, `tsx subgraphs/crm/main.ts`, ...), as in a
 * deployment: a test can SIGKILL it, restart it, and tell whether it exited by itself.
 */
export interface ServiceProcess {
  readonly name: string;
  /** Exits this process had that the test did not ask for (a crash), with the end of its stderr. */
  readonly crashes: { code: number | null; signal: NodeJS.Signals | null; stderr: string }[];
  readonly alive: boolean;
  start(): Promise<void>;
  /** Sends `signal` and waits for the exit (not counted as a crash). */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface ServiceSpec {
  name: string;
  /** Entry point relative to the repository root. */
  entry: string;
  env: NodeJS.ProcessEnv;
  /** Port the service listens on once ready; workers have none (`ready` is then their first log line). */
  port?: number;
}

export function serviceProcess(spec: ServiceSpec): ServiceProcess {
  let proc: ChildProcess | undefined;
  let expectedExit = false;
  let stderr = '';
  const crashes: ServiceProcess['crashes'] = [];
  return {
    name: spec.name,
    crashes,
    get alive() {
      return proc !== undefined && proc.exitCode === null && proc.signalCode === null;
    },
    async start() {
      expectedExit = false;
      stderr = '';
      // Its own process group: tsx runs the service in a child node process, and a signal must reach that one too.
      // Worker ops endpoints on ephemeral ports: several workers (and test files) run side by side.
      const child = spawn(TSX, [spec.entry], { cwd: ROOT, env: { ...process.env, SYNC_WORKER_PORT: '0', ...spec.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      proc = child;
      child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
      let started: () => void = () => undefined;
      const firstLine = new Promise<void>((resolve) => (started = resolve));
      child.stdout?.on('data', () => started());
      const exited = new Promise<never>((_, reject) => {
        child.once('exit', (code, signal) => {
          if (!expectedExit) crashes.push({ code, signal, stderr });
          reject(new Error(`${spec.name} exited (${code ?? signal}) while starting: ${stderr}`));
        });
      });
      exited.catch(() => undefined);
      await Promise.race([spec.port === undefined ? firstLine : waitForPort(spec.port, true, 180_000), exited]);
    },
    async kill(signal = 'SIGTERM') {
      const p = proc;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      expectedExit = true;
      const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
      if (p.pid !== undefined) process.kill(-p.pid, signal);
      await exited;
      if (spec.port !== undefined) await waitForPort(spec.port, false);
    },
  };
}
