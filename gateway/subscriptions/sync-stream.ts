import type { EventBus } from '../../lib/events';
import { syncChannel } from '../../lib/events';

/** A stored sync event as the sync subgraph's `syncEvents` query returns it. */
export interface SyncEvent {
  eventId: string;
  /** Null for business status events. */
  jobId: string | null;
  kind: string;
  entityType: string;
  entityId: string;
  targetSystem: string | null;
  state: string;
  attempts: number;
  errorCode: string | null;
  /** Public text; live events from the bus also carry `messageParts`, rendered by each subscriber's scopes. */
  message: string | null;
  messageParts?: unknown;
  correlationId: string;
  at: string;
}

export interface SyncEventFilter {
  entityType?: string | null;
  entityId?: string | null;
  states?: readonly string[] | null;
  systems?: readonly string[] | null;
}

export interface StreamOptions {
  bus: EventBus;
  tenant: string;
  /** Resume point: deliver every event after this id first, then live ones. */
  after: string | null;
  filter: SyncEventFilter;
  /** Which events this stream is about (job events, or one kind of status event). Ids are shared by all kinds. */
  accept: (e: SyncEvent) => boolean;
  /** Reads stored events after an id (oldest first, up to `PAGE`), through the gateway as the subscriber. */
  fetchAfter: (after: string) => Promise<SyncEvent[]>;
  /** Live events buffered for a consumer that does not keep up; beyond this it is dropped. */
  maxBuffered: number;
  /** Called once when the buffer overflows; the stream then ends (the caller closes the connection). */
  onSlowConsumer: () => void;
}

/** Events per ledger read while catching up; fewer means the ledger has no more. */
export const PAGE = 100;

/**
 * The bus hands the same message string to every subscriber of a tenant in turn, so one parse serves them all: the
 * last message and its event are kept (events are never mutated after parsing).
 */
let lastMessage: string | null = null;
let lastEvent: SyncEvent | null = null;
function parseOnce(message: string): SyncEvent {
  if (message !== lastMessage || lastEvent === null) {
    lastEvent = JSON.parse(message) as SyncEvent;
    lastMessage = message;
  }
  return lastEvent;
}

function matches(e: SyncEvent, f: SyncEventFilter): boolean {
  return (
    (!f.entityType || e.entityType === f.entityType) &&
    (!f.entityId || e.entityId === f.entityId) &&
    (!f.states?.length || f.states.includes(e.state)) &&
    (!f.systems?.length || (e.targetSystem !== null && f.systems.includes(e.targetSystem)))
  );
}

/**
 * Gap-free event stream for one subscriber. Event ids are consecutive per tenant across all kinds, so every live
 * event (of any kind) advances the position; only accepted ones are delivered. It
 * listens live first (buffering), replays stored events after `after`, then
 * continues live, skipping what it already delivered. A live event that jumps ahead of the last delivered id (relays
 * in several processes can publish out of order) triggers a read of the ledger for the gap, so every event is
 * delivered exactly once and in order.
 *
 * `return()` takes effect at once. An async generator's own `return()` waits until the generator reaches a `yield`:
 * one paused on the bus would only see it at its tenant's next event, holding its bus listener until then, forever on
 * a quiet tenant. Here `return()` aborts the wait, a pending `next()`
 * settles as done, and the generator finishes (unsubscribing from the bus) in the background.
 */
export function syncEventStream(opts: StreamOptions): AsyncGenerator<SyncEvent> {
  const controller = new AbortController();
  const { signal } = controller;
  const inner = events(opts, signal);
  const done: IteratorReturnResult<undefined> = { done: true, value: undefined };
  // A listener per pending next(), removed when it settles (racing one shared promise would pile up a reaction per
  // event for the life of the subscription).
  const next = () =>
    new Promise<IteratorResult<SyncEvent>>((resolve, reject) => {
      const onAbort = () => resolve(done);
      signal.addEventListener('abort', onAbort, { once: true });
      inner.next().then(
        (result) => {
          signal.removeEventListener('abort', onAbort);
          resolve(result);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      );
    });
  const stop = () => {
    controller.abort();
    // Queued behind a pending next() if there is one; that one ends soon, as every wait below watches the signal.
    inner.return(undefined).catch(() => undefined);
  };
  const stream: AsyncGenerator<SyncEvent> = {
    next: () => (signal.aborted ? Promise.resolve(done) : next()),
    async return() {
      stop();
      return done;
    },
    async throw(err: unknown) {
      stop();
      throw err;
    },
    [Symbol.asyncIterator]: () => stream,
  };
  return stream;
}

async function* events(opts: StreamOptions, signal: AbortSignal): AsyncGenerator<SyncEvent> {
  const queue: SyncEvent[] = [];
  let notify: (() => void) | null = null;
  let overflow = false;
  signal.addEventListener('abort', () => notify?.(), { once: true });
  const unsubscribe = await opts.bus.subscribe(syncChannel(opts.tenant), (message) => {
    if (queue.length >= opts.maxBuffered) {
      overflow = true;
    } else {
      queue.push(parseOnce(message));
    }
    notify?.();
  });
  let last: bigint | null = opts.after === null ? null : BigInt(opts.after);
  try {
    const catchUp = async function* (upTo: bigint | null): AsyncGenerator<SyncEvent> {
      for (;;) {
        if (last === null || signal.aborted) return;
        const page = await opts.fetchAfter(last.toString());
        for (const e of page) {
          const id = BigInt(e.eventId);
          if (upTo !== null && id >= upTo) return;
          last = id;
          if (opts.accept(e) && matches(e, opts.filter)) yield e;
        }
        if (page.length < PAGE) return;
      }
    };
    yield* catchUp(null);
    while (!signal.aborted) {
      if (overflow) {
        // Dropping beats buffering without bound: the client reconnects and resumes with `after`.
        opts.onSlowConsumer();
        return;
      }
      const next = queue.shift();
      if (!next) {
        await new Promise<void>((resolve) => (notify = resolve));
        notify = null;
        continue;
      }
      const id = BigInt(next.eventId);
      if (last !== null && id <= last) continue;
      if (last !== null && id > last + 1n) yield* catchUp(id);
      if (last !== null && id <= last) continue;
      last = id;
      if (opts.accept(next) && matches(next, opts.filter)) yield next;
    }
  } finally {
    await unsubscribe();
  }
}
