/**
 * The client processes of bench/subscriptions.ts (bench/subscriptions-client.ts, forked with an IPC channel): start
 * one, talk to it, add up their status reports.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { type ClientStatus, type FromClient, type ToClient, fromClient } from './subscriptions-client';

export interface ClientProcess {
  pid: number;
  send(msg: ToClient): void;
  /** Resolves with the next message of this type. */
  next<T extends FromClient['type']>(type: T): Promise<Extract<FromClient, { type: T }>>;
  status(): Promise<ClientStatus>;
  kill(): void;
  exited: Promise<void>;
}

const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of liveChildren) c.kill('SIGTERM');
});

export function forkClient(label: string, cpu: number | undefined): Promise<ClientProcess> {
  const script = path.join(__dirname, 'subscriptions-client.ts');
  const args = ['--import', 'tsx', script];
  const [cmd, argv] = cpu !== undefined ? ['taskset', ['-c', String(cpu), process.execPath, ...args]] : [process.execPath, args];
  const child = spawn(cmd, argv, { cwd: path.resolve(__dirname, '..'), stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, NODE_ENV: 'production' } });
  liveChildren.add(child);
  const waiters = new Map<string, ((msg: FromClient) => void)[]>();
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      liveChildren.delete(child);
      if (code !== 0 && code !== null) process.stderr.write(`[${label}] exited with code ${code}\n`);
      else if (signal && signal !== 'SIGTERM') process.stderr.write(`[${label}] killed by ${signal}\n`);
      for (const list of waiters.values()) for (const w of list) w({ type: 'closed' });
      waiters.clear();
      resolve();
    }),
  );
  child.on('message', (raw: unknown) => {
    const parsed = fromClient.safeParse(raw);
    if (!parsed.success) {
      process.stderr.write(`[${label}] unreadable message: ${JSON.stringify(raw).slice(0, 200)}\n`);
      return;
    }
    const list = waiters.get(parsed.data.type);
    const w = list?.shift();
    w?.(parsed.data);
  });
  const next = <T extends FromClient['type']>(type: T) =>
    new Promise<Extract<FromClient, { type: T }>>((resolve, reject) => {
      if (!child.connected) {
        reject(new Error(`${label} is gone`));
        return;
      }
      const list = waiters.get(type) ?? [];
      list.push((msg) => (msg.type === type ? resolve(msg as Extract<FromClient, { type: T }>) : reject(new Error(`${label} exited`))));
      waiters.set(type, list);
    });
  const handle: ClientProcess = {
    pid: -1,
    send: (msg) => {
      if (child.connected) child.send(msg);
    },
    next,
    async status() {
      const reply = next('status');
      handle.send({ type: 'status' });
      return (await reply).status;
    },
    kill: () => child.kill('SIGTERM'),
    exited,
  };
  return next('ready').then((ready) => {
    handle.pid = ready.pid;
    return handle;
  });
}

export function sumStatus(all: readonly ClientStatus[]): ClientStatus {
  const total: ClientStatus = {
    connected: 0, failed: 0, subscriptionErrors: 0, errorSamples: [], closeCodes: {}, warmedUp: 0, measured: 0, outOfOrder: 0, badPayloads: 0, gaps: 0, duplicates: 0, rssBytes: 0,
  };
  for (const s of all) {
    total.connected += s.connected;
    total.failed += s.failed;
    total.subscriptionErrors += s.subscriptionErrors;
    total.warmedUp += s.warmedUp;
    total.measured += s.measured;
    total.outOfOrder += s.outOfOrder;
    total.badPayloads += s.badPayloads;
    total.gaps += s.gaps;
    total.duplicates += s.duplicates;
    total.rssBytes += s.rssBytes;
    for (const e of s.errorSamples) if (total.errorSamples.length < 5 && !total.errorSamples.includes(e)) total.errorSamples.push(e);
    for (const [code, n] of Object.entries(s.closeCodes)) total.closeCodes[code] = (total.closeCodes[code] ?? 0) + n;
  }
  return total;
}


/** Asks every client process to close its connections and exit; kills one that has not exited 5 s after that. */
export async function closeClients(clients: readonly ClientProcess[]): Promise<void> {
  await Promise.all(
    clients.map(async (c) => {
      const closed = c.next('closed').catch(() => undefined);
      c.send({ type: 'close' });
      await Promise.race([closed, new Promise<void>((resolve) => setTimeout(resolve, 15_000).unref())]);
      const timer = setTimeout(() => c.kill(), 5000);
      await c.exited;
      clearTimeout(timer);
    }),
  );
}
