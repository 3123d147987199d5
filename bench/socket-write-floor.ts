/**
 * The floor under the subscription fan-out's CPU per delivery: what one Node process pays for one `socket.write` of a
 * frame-sized buffer to each of N loopback TCP sockets, with nothing else in the process (no ws, no graphql-ws, no
 * fan-out). On loopback the sender's write system call also runs the receiving side's TCP input (softirq on the same
 * CPU), so the kernel share here is higher than a real NIC would cost the gateway.
 *
 *   npx tsx bench/socket-write-floor.ts [--sockets 5000] [--bytes 180] [--rounds 50] [--interval 500] [--pin on|off]
 *     [--write stream|handle]
 *
 * --write handle (an experiment, not something to ship): writes through the socket's libuv handle with a WriteWrap
 * from the deprecated `process.binding('stream_wrap')`, skipping Node's Writable bookkeeping (state, nextTick,
 * afterWrite), to show what that bookkeeping costs per write.
 *
 * This process (pinned to CPU 0) listens; a forked reader (pinned to CPU 1) opens the N connections and discards what
 * arrives. Every --interval ms one round writes one fresh buffer to every socket (a copy per socket, as the gateway
 * builds one frame per subscription), as fast as the loop goes; reported: user and kernel CPU of this process per
 * write, and a round's duration (p50 / p99 / max), which is the floor of the gateway's fan-out duration per event.
 */
import { fork } from 'node:child_process';
import net from 'node:net';
import { parseCli } from '../lib/cli';
import { cpuDelta, cpuSplit } from './subscriptions-gauges';
import { intOption, machineDescription, percentile, pinProcess, pinThisProcess, tasksetAvailable } from './support';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function reader(): void {
  process.on('message', (msg: { port: number; sockets: number }) => {
    let open = 0;
    let started = 0;
    const openNext = () => {
      while (started < msg.sockets && started - open < 100) {
        started += 1;
        const s = net.connect(msg.port, '127.0.0.1', () => {
          open += 1;
          if (open === msg.sockets) process.send?.({ open });
          else openNext();
        });
        s.resume();
        s.on('error', () => undefined);
      }
    };
    openNext();
  });
}

interface WriteReq {
  handle: unknown;
  oncomplete: (status: number) => void;
  async: boolean;
  bytes: number;
  buffer: Buffer | null;
}
interface StreamHandle {
  writeBuffer(req: WriteReq, data: Buffer): number;
}

/** Writes on the socket's handle as Node's own writeGeneric does, without the Writable around it. */
function handleWriter(): (s: net.Socket, frame: Buffer) => void {
  const binding = (process as unknown as { binding(name: string): { WriteWrap: new () => WriteReq } }).binding('stream_wrap');
  const done = () => undefined;
  return (s, frame) => {
    const handle = (s as unknown as { _handle: StreamHandle })._handle;
    const req = new binding.WriteWrap();
    req.handle = handle;
    req.oncomplete = done;
    req.async = false;
    req.bytes = 0;
    // Kept on the request until libuv is done with it (a partial write completes later).
    req.buffer = frame;
    handle.writeBuffer(req, frame);
  };
}

async function main(): Promise<void> {
  const { values } = parseCli({
    usage: 'npx tsx bench/socket-write-floor.ts [options]',
    summary: 'CPU per socket.write of a frame-sized buffer to N loopback sockets: the floor of the fan-out cost per delivery.',
    options: {
      sockets: { type: 'string', default: '5000', description: 'connections', placeholder: 'n' },
      bytes: { type: 'string', default: '180', description: 'bytes per write (a bench frame is ~180)', placeholder: 'n' },
      rounds: { type: 'string', default: '50', description: 'rounds of one write per socket', placeholder: 'n' },
      interval: { type: 'string', default: '500', description: 'ms between rounds', placeholder: 'ms' },
      pin: { type: 'string', default: 'on', description: 'on|off: this process on CPU 0, the reader on CPU 1', placeholder: 'on|off' },
      write: { type: 'string', default: 'stream', description: 'stream: socket.write; handle: the libuv handle directly (experiment)', placeholder: 'stream|handle' },
      role: { type: 'string', default: 'writer', description: 'internal: writer|reader', placeholder: 'role' },
    },
  });
  if (values.role === 'reader') return reader();
  const sockets = intOption('sockets', values.sockets, 1);
  const bytes = intOption('bytes', values.bytes, 1);
  const rounds = intOption('rounds', values.rounds, 1);
  const intervalMs = intOption('interval', values.interval, 0);
  process.stdout.write(`# socket-write-floor — ${new Date().toISOString()}\nmachine: ${machineDescription()}\n`);
  const pin = values.pin === 'on' && tasksetAvailable();
  if (pin) pinThisProcess(0);
  const accepted: net.Socket[] = [];
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    accepted.push(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const child = fork(__filename, ['--role', 'reader'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  if (pin && child.pid !== undefined) pinProcess(child.pid, 1);
  const opened = new Promise<void>((resolve) => child.once('message', () => resolve()));
  child.send({ port, sockets });
  await opened;
  while (accepted.length < sockets) await sleep(10);
  await sleep(1000);
  const body = Buffer.alloc(bytes, 0x61);
  const write = values.write === 'handle' ? handleWriter() : (s: net.Socket, frame: Buffer) => void s.write(frame);
  const durations: number[] = [];
  const before = cpuSplit(process.pid);
  const started = performance.now();
  for (let r = 0; r < rounds; r++) {
    const due = started + r * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const t0 = performance.now();
    for (const s of accepted) {
      const frame = Buffer.allocUnsafe(bytes);
      body.copy(frame);
      write(s, frame);
    }
    durations.push(performance.now() - t0);
  }
  // Let the last writes' callbacks and ticks run before reading the CPU.
  await sleep(200);
  const cpu = cpuDelta(cpuSplit(process.pid), before);
  const writes = rounds * sockets;
  durations.sort((a, b) => a - b);
  const us = (s: number) => ((s / writes) * 1e6).toFixed(2);
  process.stdout.write(
    `${sockets} sockets × ${rounds} rounds of ${bytes}-byte writes, ${values.write === 'handle' ? 'on the libuv handle' : 'socket.write'} (${pin ? 'writer on CPU 0, reader on CPU 1' : 'unpinned'}): CPU ${(cpu.user + cpu.kernel).toFixed(2)} s = ` +
      `${us(cpu.user + cpu.kernel)} µs per write (user ${us(cpu.user)}, kernel ${us(cpu.kernel)}; includes the idle timers of ${((performance.now() - started) / 1000).toFixed(1)} s); ` +
      `round duration p50 ${percentile(durations, 50).toFixed(1)} ms, p99 ${percentile(durations, 99).toFixed(1)} ms, max ${(durations[durations.length - 1] ?? Number.NaN).toFixed(1)} ms\n`,
  );
  child.kill('SIGTERM');
  for (const s of accepted) s.destroy();
  server.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/socket-write-floor.ts: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
