/**
 * Load-generating side of bench/subscriptions.ts, meant to run in its own process (the parent forks it with an IPC
 * channel): opens `count` graphql-ws connections to the gateway, one `syncStatusChanged` subscription on each, and
 * records for every delivered event the time from its publication (a wall-clock timestamp the publisher put in the
 * event's `message`) to its receipt here. Driven entirely by IPC messages (see `ToClient` / `FromClient`).
 *
 * Event `message` format, written by the parent: `w:<n>:<sentAt>` for warm-up events (they prove a subscription is
 * live) and `m:<index>:<sentAt>` for measured ones; `sentAt` is `performance.timeOrigin + performance.now()` in ms.
 */
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { z } from 'zod';

/** Payload-only fields: resolved from the published event itself, no query through the gateway per event. */
export const SUBSCRIPTION_QUERY = 'subscription BenchWatch { syncStatusChanged { eventId event { state message } } }';
/** The same, resumable: the storm mode reconnects every subscription with `after` = the last eventId it received. */
export const RESUMABLE_QUERY = 'subscription BenchResume($after: ID) { syncStatusChanged(after: $after) { eventId event { state message } } }';

export const toClient = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('open'), url: z.string().url(), token: z.string().min(1), count: z.number().int().min(1), concurrency: z.number().int().min(1),
    /** Subscribe with RESUMABLE_QUERY from `after` (storm mode). */
    after: z.string().optional(),
    /** Subscribe with RESUMABLE_QUERY without `after` (live only, resumable later: multi-instance mode). */
    resumable: z.boolean().optional(),
  }),
  /** Close the connections of the first `count` subscriptions (all without it) at once, no reconnect yet. */
  z.object({ type: z.literal('drop'), count: z.number().int().min(0).optional() }),
  /**
   * Reopen every dropped subscription (on `url`, possibly another instance) with `after` = its last eventId; report
   * once every subscription of this process, dropped or not, has received `target`.
   */
  z.object({ type: z.literal('reconnect'), url: z.string().url(), token: z.string().min(1), concurrency: z.number().int().min(1), target: z.string() }),
  z.object({ type: z.literal('status') }),
  z.object({ type: z.literal('results') }),
  z.object({ type: z.literal('close') }),
]);
export type ToClient = z.infer<typeof toClient>;

export const clientStatus = z.object({
  /** Connections that received connection_ack. */
  connected: z.number().int(),
  /** Connections that closed or failed before connection_ack. */
  failed: z.number().int(),
  /** Subscriptions that ended with an error (e.g. SUBSCRIPTION_LIMIT) or by the socket closing. */
  subscriptionErrors: z.number().int(),
  errorSamples: z.array(z.string()),
  /** Close codes seen (connection or later), with counts. */
  closeCodes: z.record(z.string(), z.number().int()),
  /** Subscriptions that received at least one warm-up event. */
  warmedUp: z.number().int(),
  /** Measured events received, summed over subscriptions. */
  measured: z.number().int(),
  /** Measured events that arrived with a lower or equal index than the previous one on the same subscription. */
  outOfOrder: z.number().int(),
  /** Results carrying `errors` or without the expected fields. */
  badPayloads: z.number().int(),
  /**
   * Events whose eventId is not the one after the previous event of the same subscription (the bench's synthetic
   * events are numbered consecutively, so any skip is a lost event), and events at or below the previous (repeats).
   */
  gaps: z.number().int(),
  duplicates: z.number().int(),
  rssBytes: z.number(),
});
export type ClientStatus = z.infer<typeof clientStatus>;

export const fromClient = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), pid: z.number().int() }),
  z.object({ type: z.literal('opened'), ms: z.number() }),
  z.object({ type: z.literal('status'), status: clientStatus }),
  /** `latencies[i]`: publish-to-receipt ms of measured event i, one entry per subscription that received it. */
  z.object({ type: z.literal('results'), latencies: z.array(z.array(z.number())) }),
  z.object({ type: z.literal('closed') }),
  z.object({ type: z.literal('dropped') }),
  /** Storm mode: every subscription of this process reached the target (`at`: epoch ms), or gave up. */
  z.object({ type: z.literal('caughtUp'), at: z.number(), caughtUp: z.number().int(), duplicates: z.number().int() }),
]);
export type FromClient = z.infer<typeof fromClient>;

const now = () => performance.timeOrigin + performance.now();

interface SubState {
  warm: boolean;
  lastIndex: number;
  /** Last eventId received (storm mode resumes from it). */
  lastEventId: bigint | null;
  /** Its connection, while open. */
  client: Client | null;
  /** Dropped by a `drop`, waiting for `reconnect`. */
  away: boolean;
  /** Ended by the server or the connection (not by a `drop`): it cannot reach a `reconnect` target any more. */
  lost?: boolean;
}

function describe(err: unknown): string {
  if (Array.isArray(err)) {
    return err.map((e: unknown) => (e && typeof e === 'object' && 'message' in e ? String(e.message) : String(e))).join('; ');
  }
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object' && 'code' in err) {
    const reason = 'reason' in err ? String(err.reason) : '';
    return `socket closed ${String(err.code)}${reason ? ` (${reason})` : ''}`;
  }
  return String(err);
}

function closeCode(event: unknown): string {
  return event && typeof event === 'object' && 'code' in event ? String(event.code) : 'unknown';
}

/** Reads `syncStatusChanged.event.message` from one result, or null when the result is not the expected shape. */
function messageOf(value: { data?: unknown; errors?: unknown }): string | null {
  if (value.errors) return null;
  const data = value.data;
  if (!data || typeof data !== 'object' || !('syncStatusChanged' in data)) return null;
  const change = data.syncStatusChanged;
  if (!change || typeof change !== 'object' || !('event' in change)) return null;
  const event = change.event;
  if (!event || typeof event !== 'object' || !('message' in event)) return null;
  return typeof event.message === 'string' ? event.message : null;
}

function main(): void {
  const send = (msg: FromClient) => process.send?.(msg);
  const clients: Client[] = [];
  const latencies: number[][] = [];
  const status: ClientStatus = {
    connected: 0, failed: 0, subscriptionErrors: 0, errorSamples: [], closeCodes: {}, warmedUp: 0, measured: 0, outOfOrder: 0, badPayloads: 0, gaps: 0, duplicates: 0, rssBytes: 0,
  };
  const sample = (text: string) => {
    if (status.errorSamples.length < 5 && !status.errorSamples.includes(text)) status.errorSamples.push(text);
  };

  const subs: SubState[] = [];
  /** Storm mode: the eventId every subscription must reach, and what to call once all have. */
  const storm: { target: bigint | null; pending: number; lost: number; duplicates: number; onDone: (() => void) | null } = { target: null, pending: 0, lost: 0, duplicates: 0, onDone: null };
  const eventIdOf = (value: { data?: unknown }): bigint | null => {
    const change = (value.data as { syncStatusChanged?: { eventId?: unknown } } | null | undefined)?.syncStatusChanged;
    return typeof change?.eventId === 'string' ? BigInt(change.eventId) : null;
  };
  const openOne = (url: string, token: string, sub: SubState, resumable: boolean) =>
    new Promise<void>((resolve) => {
      let acked = false;
      const client = createClient({
        url,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${token}` },
        retryAttempts: 0,
        lazy: false,
        onNonLazyError: (err) => sample(`connection: ${describe(err)}`),
        on: {
          connected: () => {
            acked = true;
            status.connected += 1;
            resolve();
          },
          closed: (event) => {
            const code = closeCode(event);
            status.closeCodes[code] = (status.closeCodes[code] ?? 0) + 1;
            if (!acked) {
              status.failed += 1;
              resolve();
            }
          },
        },
      });
      clients.push(client);
      sub.client = client;
      const after = sub.lastEventId === null ? undefined : sub.lastEventId.toString();
      client.subscribe(
        resumable ? { query: RESUMABLE_QUERY, variables: { after } } : { query: SUBSCRIPTION_QUERY },
        {
          next: (value) => {
            const receivedAt = now();
            const id = eventIdOf(value);
            if (id !== null) {
              if (sub.lastEventId !== null && id <= sub.lastEventId) {
                storm.duplicates += 1;
                status.duplicates += 1;
              } else if (sub.lastEventId !== null && id !== sub.lastEventId + 1n) status.gaps += 1;
              const before = sub.lastEventId;
              sub.lastEventId = id;
              if (storm.target !== null && id >= storm.target && (before === null || before < storm.target)) {
                storm.pending -= 1;
                if (storm.pending === 0) storm.onDone?.();
              }
            }
            const message = messageOf(value);
            const [phase, index, sentAt] = message?.split(':') ?? [];
            if (phase === 'w') {
              if (!sub.warm) status.warmedUp += 1;
              sub.warm = true;
            } else if (phase === 's' || phase === 'a') {
              // Storm mode and multi-instance moves: counted by eventId above.
            } else if (phase === 'm' && index !== undefined && sentAt !== undefined) {
              const i = Number(index);
              (latencies[i] ??= []).push(receivedAt - Number(sentAt));
              status.measured += 1;
              if (i <= sub.lastIndex) status.outOfOrder += 1;
              sub.lastIndex = i;
            } else {
              status.badPayloads += 1;
              sample(`payload: ${JSON.stringify(value).slice(0, 200)}`);
            }
          },
          error: (err) => {
            status.subscriptionErrors += 1;
            sample(`subscription: ${describe(err)}`);
            // Lost while still its subscription's current connection (a `drop` replaces or clears sub.client first): a
            // pending target is given up for it, so the parent is not left waiting out its whole budget.
            if (sub.client !== client || sub.away || sub.lost) return;
            sub.lost = true;
            if (storm.target !== null && (sub.lastEventId === null || sub.lastEventId < storm.target) && storm.pending > 0) {
              storm.pending -= 1;
              storm.lost += 1;
              if (storm.pending === 0) storm.onDone?.();
            }
          },
          complete: () => undefined,
        },
      );
    });

  process.on('message', (raw: unknown) => {
    const parsed = toClient.safeParse(raw);
    if (!parsed.success) {
      process.stderr.write(`subscriptions-client: unreadable message ${JSON.stringify(raw)}\n`);
      return;
    }
    const msg = parsed.data;
    switch (msg.type) {
      case 'open': {
        const started = performance.now();
        const wsUrl = msg.url.replace(/^http/, 'ws');
        let next = 0;
        // A bounded number of handshakes in flight: thousands of simultaneous SYNs overflow the listen backlog.
        const lane = async () => {
          while (next < msg.count) {
            next += 1;
            const sub: SubState = { warm: false, lastIndex: -1, lastEventId: msg.after === undefined ? null : BigInt(msg.after), client: null, away: false };
            subs.push(sub);
            await openOne(wsUrl, msg.token, sub, msg.after !== undefined || msg.resumable === true);
          }
        };
        void Promise.all(Array.from({ length: Math.min(msg.concurrency, msg.count) }, lane)).then(() =>
          send({ type: 'opened', ms: performance.now() - started }),
        );
        break;
      }
      case 'drop': {
        const leaving = subs.slice(0, msg.count ?? subs.length);
        const closing: Client[] = [];
        for (const sub of leaving) {
          sub.away = true;
          if (sub.client) closing.push(sub.client);
          sub.client = null;
        }
        const gone = new Set(closing);
        clients.splice(0, clients.length, ...clients.filter((c) => !gone.has(c)));
        void Promise.allSettled(closing.map((c) => c.dispose())).then(() => send({ type: 'dropped' }));
        break;
      }
      case 'reconnect': {
        const wsUrl = msg.url.replace(/^http/, 'ws');
        const target = BigInt(msg.target);
        storm.target = target;
        // A subscription that never received anything (its connection failed) cannot catch up: not waited for.
        // Nor one whose subscription was lost (closed by the server or the connection, not by a `drop`).
        storm.pending = subs.filter((s) => !s.lost && s.lastEventId !== null && s.lastEventId < target).length;
        storm.lost = subs.filter((s) => s.lost && (s.lastEventId === null || s.lastEventId < target)).length;
        storm.duplicates = 0;
        const report = () => send({ type: 'caughtUp', at: now(), caughtUp: subs.length - storm.pending - storm.lost, duplicates: storm.duplicates });
        if (storm.pending === 0) {
          report();
          break;
        }
        storm.onDone = report;
        let next = 0;
        const returning = subs.filter((s) => s.away);
        const lane = async () => {
          while (next < returning.length) {
            const sub = returning[next];
            next += 1;
            if (!sub) continue;
            sub.away = false;
            await openOne(wsUrl, msg.token, sub, true);
          }
        };
        void Promise.all(Array.from({ length: Math.min(msg.concurrency, returning.length) }, lane));
        break;
      }
      case 'status':
        send({ type: 'status', status: { ...status, rssBytes: process.memoryUsage.rss() } });
        break;
      case 'results':
        send({ type: 'results', latencies: Array.from(latencies, (l) => l ?? []) });
        break;
      case 'close':
        void Promise.allSettled(clients.map((c) => c.dispose())).then(() => {
          send({ type: 'closed' });
          process.disconnect();
          // Give the sockets' close frames a moment, then go.
          setTimeout(() => process.exit(0), 500).unref();
        });
        break;
    }
  });
  process.on('disconnect', () => setTimeout(() => process.exit(0), 1000).unref());
  send({ type: 'ready', pid: process.pid });
}

if (require.main === module) {
  if (!process.send) {
    process.stderr.write('bench/subscriptions-client.ts is started by bench/subscriptions.ts (it needs an IPC channel)\n');
    process.exit(1);
  }
  main();
}
