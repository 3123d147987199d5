// @ts-check
// JavaScript, like the reporter: a diagnostic that must not depend on the transform it helps to debug.
const { appendFileSync } = require('node:fs');
const { relative } = require('node:path');
const { TestEnvironment } = require('jest-environment-node');

/**
 * jest's node environment that, with TEST_HANDLES_LOG=<file>, writes after each test file what still keeps its
 * process (a jest worker, or jest itself in band) alive: one JSON line per file with the pid, the resource types
 * (`process.getActiveResourcesInfo()`) and the sockets, servers and child processes among them; then every change of
 * it until the process exits, and when it exits. A file whose line has more than the one before it in the same worker
 * left something open. At the end of the run a worker names what it still has open on stderr and exits at once (see
 * below), so jest's vague "a worker process has failed to exit gracefully" no longer stands for either case. Without
 * the variable it is jest's node environment plus that prompt exit.
 */
class HandlesEnvironment extends TestEnvironment {
  /**
   * @param {ConstructorParameters<typeof TestEnvironment>[0]} config
   * @param {ConstructorParameters<typeof TestEnvironment>[1]} context
   */
  constructor(config, context) {
    super(config, context);
    this.testPath = relative(config.globalConfig.rootDir, context.testPath);
  }

  async teardown() {
    await super.teardown();
    const log = process.env['TEST_HANDLES_LOG'];
    if (!log) return;
    // What closes by itself within a second (sockets finishing their close, a server's last callback) is not a leak.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    /** @type {Record<string, number>} */
    const types = {};
    for (const t of process.getActiveResourcesInfo()) types[t] = (types[t] ?? 0) + 1;
    // Undocumented but stable since Node 0.x: the handle objects behind the counts, to say which socket or child.
    /** @type {() => unknown[]} */
    const activeHandles = Reflect.get(process, '_getActiveHandles').bind(process);
    const handles = activeHandles().map(describe).filter((d) => d !== null);
    appendFileSync(log, `${JSON.stringify({ pid: process.pid, file: this.testPath, rssMiB: Math.round(process.memoryUsage().rss / 1048576), types, handles })}\n`);
    traceUntilExit(log);
  }
}

let tracing = false;

/**
 * A jest worker exits as soon as jest tells it the run is over. Left to exit by itself, a worker tears its whole heap
 * down first (V8 frees it page by page): with the 1-2 GB a worker holds after many files that took 1-4 s, past jest's
 * fixed 500 ms, and jest then printed "a worker process has failed to exit gracefully" though nothing was open. What
 * is still open at that moment besides jest's own pipes is a real leak: it is named on stderr, then the worker exits.
 * jest's worker drops its only 'message' listener when told the run is over; that is the signal.
 */
const FAST_EXIT = Symbol.for('sor.jest.fastExit');
if (process.send && !Reflect.get(process, FAST_EXIT)) {
  Reflect.set(process, FAST_EXIT, true);
  process.on('removeListener', (event) => {
    if (event !== 'message' || process.listenerCount('message') > 0) return;
    const log = process.env['TEST_HANDLES_LOG'];
    if (log) appendFileSync(log, `${JSON.stringify({ pid: process.pid, at: new Date().toISOString(), endOfRun: true, rssMiB: Math.round(process.memoryUsage().rss / 1048576) })}\n`);
    setImmediate(() => {
      const open = Reflect.get(process, '_getActiveHandles').call(process).map(describe).filter((/** @type {string | null} */ d) => d !== null && d !== 'Pipe');
      if (open.length > 0) process.stderr.write(`jest worker ${process.pid} still had open at the end of the run: ${open.join(', ')}\n`);
      process.exit(process.exitCode ?? 0);
    });
  });
}

/**
 * Once jest has told the worker the run is over (it drops its 'message' listener then), notes every change of what
 * keeps the worker alive, and the moment it exits by itself (jest kills a worker that has not exited 500 ms after the run's end: then no `exit` line follows).
 * The timer is unref'd: it never keeps the worker alive itself.
 * @param {string} log
 */
function traceUntilExit(log) {
  // Only in a jest worker (a child with an IPC channel); jest itself, in band, exits when it is done.
  if (tracing || !process.send) return;
  tracing = true;
  const started = Date.now();
  let last = '';
  setInterval(() => {
    // Quiet while it runs test files; from the end message on, every change.
    if (process.listenerCount('message') > 0) return;
    const now = JSON.stringify({ active: process.getActiveResourcesInfo().sort(), messageListeners: process.listenerCount('message') });
    if (now === last) return;
    last = now;
    appendFileSync(log, `${JSON.stringify({ pid: process.pid, at: new Date().toISOString(), ...JSON.parse(now) })}\n`);
  }, 50).unref();
  process.once('exit', () => appendFileSync(log, `${JSON.stringify({ pid: process.pid, at: new Date().toISOString(), exited: true, tracedForMs: Date.now() - started, rssMiB: Math.round(process.memoryUsage().rss / 1048576) })}\n`));
}

/** @param {unknown} h */
function describe(h) {
  if (typeof h !== 'object' || h === null) return null;
  const name = h.constructor?.name ?? 'Object';
  if (name === 'Socket') {
    const s = /** @type {import('node:net').Socket} */ (h);
    if (s === process.stdout || s === process.stderr || s === process.stdin) return null;
    return `Socket ${s.localAddress ?? ''}:${s.localPort ?? ''} -> ${s.remoteAddress ?? 'pipe'}:${s.remotePort ?? ''}${s.destroyed ? ' (destroyed)' : ''}`;
  }
  if (name === 'Server') {
    const a = /** @type {import('node:net').Server} */ (h).address();
    return `Server ${typeof a === 'object' && a ? `${a.address}:${a.port}` : String(a)}`;
  }
  if (name === 'ChildProcess') {
    const c = /** @type {import('node:child_process').ChildProcess} */ (h);
    return `ChildProcess ${c.pid} ${c.spawnfile} ${c.spawnargs.slice(1, 3).join(' ')}`;
  }
  return name;
}

module.exports = HandlesEnvironment;
