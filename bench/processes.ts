/**
 * Start-up time and memory of each deployable, run from the TypeScript sources with tsx and from the compiled
 * build with node (`npm run bench:processes`, after `npm run build`).
 *
 * On a fresh Postgres database (migrated once first, so no run pays for the migrations), for each role (the four
 * subgraphs, the gateway in front of four compiled subgraphs, a sync worker) and each way of running it (`tsx
 * scripts/serve.ts <role>` as `npm run dev` does, `node dist/scripts/serve.js <role>` as `npm run <role>` and the image
 * do), --rounds times: spawn it, time until it is ready (GET /readyz answers 200; for the worker its "sync worker
 * started" log line), wait --settle seconds, and sum VmRSS over the process and all its descendants (tsx runs the
 * program in a child node process with an esbuild service beside it). Stops it with SIGTERM before the next.
 *
 *   npx tsx bench/processes.ts [--rounds 3] [--settle 3]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseCli } from '../lib/cli';
import { SUBGRAPH_NAMES } from '../lib/schema';
import { readMemory } from './host';
import { createDatabase, intOption, machineDescription, runId, table } from './support';

const ROOT = path.resolve(__dirname, '..');
const MODES = {
  tsx: (args: string[]) => [path.join(ROOT, 'node_modules', '.bin', 'tsx'), 'scripts/serve.ts', ...args],
  node: (args: string[]) => [process.execPath, 'dist/scripts/serve.js', ...args],
} as const;
type Mode = keyof typeof MODES;

/** Every descendant of a process (children from /proc/<pid>/task/<tid>/children), itself first. */
function tree(pid: number): number[] {
  const children: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const list = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (list) children.push(...list.split(/\s+/).map(Number));
    }
  } catch {
    // the process is gone
  }
  return [pid, ...children.flatMap(tree)];
}

function treeRss(pid: number): { bytes: number; processes: number } {
  const pids = tree(pid);
  return { bytes: pids.reduce((sum, p) => sum + (readMemory(p)?.rss ?? 0), 0), processes: pids.length };
}

async function readyz(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
  } catch {
    return false;
  }
}

interface Started {
  child: ChildProcess;
  readyMs: number;
}

/** Spawns one deployable and resolves once it is ready; polling /readyz every 25 ms bounds the error of the figure. */
async function start(mode: Mode, role: string[], env: NodeJS.ProcessEnv, port: number | undefined): Promise<Started> {
  const [cmd, ...args] = MODES[mode](role);
  const t0 = performance.now();
  const child = spawn(cmd as string, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${mode} ${role.join(' ')} exited: ${out}`);
    const ready = port === undefined ? out.includes('sync worker started') : await readyz(port);
    if (ready) return { child, readyMs: performance.now() - t0 };
    if (Date.now() > deadline) throw new Error(`${mode} ${role.join(' ')} not ready after 180 s: ${out}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function main(): Promise<void> {
  const { values } = parseCli({
    usage: 'npm run bench:processes -- [options]',
    summary: 'Start-up time and RSS of each deployable, tsx (sources) against node (dist/), after `npm run build` (needs PostgreSQL).',
    options: {
      rounds: { type: 'string', default: '3', description: 'starts per role and mode (medians are reported)', placeholder: 'n' },
      settle: { type: 'string', default: '3', description: 'seconds between ready and the RSS reading', placeholder: 's' },
    },
  });
  const rounds = intOption('rounds', values.rounds);
  const settleMs = intOption('settle', values.settle, 0) * 1000;
  if (!existsSync(path.join(ROOT, 'dist', 'scripts', 'serve.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const db = await createDatabase(`bench_procs_${runId()}`);
  const env = { ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'info', DATABASE_URL: db.url, JWT_SECRET: 'bench-jwt-secret-0123456789abcdef0123456789', GATEWAY_SIGNING_SECRET: 'bench-signing-secret-0123456789abcdef01234567' };
  const fixtures: ChildProcess[] = [];
  const rows: string[][] = [];
  try {
    const migrate = spawn(process.execPath, ['dist/scripts/serve.js', 'migrate'], { cwd: ROOT, env, stdio: 'inherit' });
    await new Promise((r) => migrate.once('exit', r));
    // Compiled subgraphs for the gateway on ports 42xx (not the defaults, which a developer's `npm start` may hold);
    // the measured subgraphs use 41xx.
    for (const name of SUBGRAPH_NAMES) fixtures.push((await start('node', ['subgraph', name], { ...env, [`${name.toUpperCase()}_PORT`]: String(portOf(name, 200)) }, portOf(name, 200))).child);
    const subgraphUrls = Object.fromEntries(SUBGRAPH_NAMES.map((name) => [`${name.toUpperCase()}_URL`, `http://127.0.0.1:${portOf(name, 200)}/graphql`]));
    const roles: { label: string; role: string[]; port: number | undefined; extraEnv?: NodeJS.ProcessEnv }[] = [
      ...SUBGRAPH_NAMES.map((name) => ({ label: `subgraph ${name}`, role: ['subgraph', name], port: portOf(name, 100) as number | undefined, extraEnv: { [`${name.toUpperCase()}_PORT`]: String(portOf(name, 100)) } })),
      { label: 'gateway', role: ['gateway'], port: 4100, extraEnv: { GATEWAY_PORT: '4100', ...subgraphUrls } },
      { label: 'worker', role: ['worker'], port: undefined },
    ];
    for (const r of roles) {
      const figures: Record<Mode, { ms: number[]; mb: number[]; procs: number }> = { tsx: { ms: [], mb: [], procs: 0 }, node: { ms: [], mb: [], procs: 0 } };
      for (let i = 0; i < rounds; i++) {
        for (const mode of ['tsx', 'node'] as const) {
          const s = await start(mode, r.role, { ...env, ...r.extraEnv }, r.port);
          await new Promise((res) => setTimeout(res, settleMs));
          const rss = treeRss(s.child.pid as number);
          figures[mode].ms.push(s.readyMs);
          figures[mode].mb.push(rss.bytes / 2 ** 20);
          figures[mode].procs = rss.processes;
          await stop(s.child);
        }
      }
      const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
      rows.push([
        r.label,
        `${med(figures.tsx.ms).toFixed(0)}`, `${med(figures.node.ms).toFixed(0)}`,
        `${med(figures.tsx.mb).toFixed(0)} (${figures.tsx.procs})`, `${med(figures.node.mb).toFixed(0)} (${figures.node.procs})`,
      ]);
      process.stderr.write(`${r.label} done\n`);
    }
  } finally {
    await Promise.all(fixtures.map(stop));
    await db.drop();
  }
  console.log(`# bench:processes, ${new Date().toISOString()}\nmachine: ${machineDescription()}; ${rounds} rounds, RSS ${settleMs / 1000} s after ready, medians\n`);
  console.log(table(['process', 'ready ms tsx', 'ready ms node', 'RSS MiB tsx (processes)', 'RSS MiB node (processes)'], rows));
}

/** Default port of a subgraph (4001-4004) plus an offset. */
function portOf(name: (typeof SUBGRAPH_NAMES)[number], offset: number): number {
  return 4001 + SUBGRAPH_NAMES.indexOf(name) + offset;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
