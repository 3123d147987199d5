import { type DocumentNode, type ExecutionResult, type GraphQLSchema, execute } from 'graphql';
import type { Principal } from '../../lib/auth/principal';
import { type ExecuteAsSubscriber, aliasAwareFieldResolver } from './federated';
import type { ReplayQueue, Release } from './replay-queue';
import { PAGE, type SyncEvent } from './sync-stream';

/**
 * Where one subscription's results go: a transport's writer for one subscription (a WebSocket subscription id, an
 * SSE response). Writes never wait; a sink that cannot keep up drops its consumer itself (4008 on WebSocket).
 */
export interface Sink {
  /** A result shared by the whole group, already serialized: written as is. */
  next(result: SharedResult): void;
  /** A result with errors: formatted for this subscriber alone (its correlation id), then serialized. */
  nextOwn(result: ExecutionResult): void;
  /** The group fell too far behind its events: end this consumer as a slow one. */
  dropSlow(): void;
}

/**
 * A result every member of a group receives alike: the ExecutionResult's JSON, and the same as UTF-8 bytes, encoded
 * once per event for the group (WebSocket members frame the bytes, SSE members write the text).
 */
export interface SharedResult {
  json: string;
  utf8: Buffer;
}

/** What the fan-out needs of a subscriber's context (the resolvers' context is this plus the rest). */
export interface Subscriber {
  principal: Principal;
  /** Executes through the gateway as this subscriber (entity fields, ledger reads). */
  execute: ExecuteAsSubscriber;
  sink: Sink;
}


export interface GroupOptions {
  /** Events waiting to be processed by one group before its subscribers are dropped as slow consumers. */
  maxBuffered: number;
  /** Recent events (and their frames) each group keeps, so a subscriber resuming within them needs no ledger read. */
  historySize: number;
  /** The instance's budget of writes per event loop turn, shared by all its groups. */
  pace: Pacer;
  replays: ReplayQueue;
  /** Observers for metrics: a resume caught up from the history or queued for a ledger read; a page read. */
  onResume?: (source: 'history' | 'ledger') => void;
  onLedgerRead?: () => void;
  /**
   * Observer of each live event a group delivered: seconds from the group taking the event (execution included) to
   * its last member's write, and the number of members written to.
   */
  onFanOut?: (seconds: number, deliveries: number) => void;
}

type Frame = { shared: SharedResult } | { result: ExecutionResult };
interface Entry {
  id: bigint;
  /** Null: the event is not one this group delivers (it only advances the position). */
  frame: Frame | null;
}
/** The group's recent events: complete for ids in (from, head]. */
interface History {
  from: bigint;
  head: bigint;
  entries: Entry[];
}

const isPromise = <T>(v: T | Promise<T>): v is Promise<T> => typeof (v as { then?: unknown } | null)?.then === 'function';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Counts an instance's writes in the current event loop turn; `spend` says when the writer must yield. */
export interface Pacer {
  /** One write done; true when this turn's budget is used up (the caller then awaits the next turn). */
  spend(): boolean;
}

/**
 * A budget of `perTurn` writes per event loop turn for all fan-out groups of an instance together: the groups run in
 * promise callbacks, so without it one Redis message (or a backlog of events) would be written to every subscriber of
 * every group in a single turn, holding pongs, handshakes and HTTP requests for as long. The budget is renewed by a
 * setImmediate scheduled at the turn's first write, which runs before the setImmediate of any writer that yields.
 */
export function pacer(perTurn: number): Pacer {
  let left = perTurn;
  let renewal = false;
  const renew = () => {
    left = perTurn;
    renewal = false;
  };
  return {
    spend() {
      if (!renewal) {
        renewal = true;
        setImmediate(renew);
      }
      left -= 1;
      return left <= 0;
    },
  };
}

function deliver(sink: Sink, frame: Frame): void {
  if ('shared' in frame) sink.next(frame.shared);
  else sink.nextOwn(frame.result);
}

/** One subscriber in a group; its `stream` is what graphql-js and the transports hold. */
export class Member {
  /** Last event id this subscriber has passed (delivered or skipped); null: live only, nothing seen yet. */
  last: bigint | null;
  ended = false;
  private settle: ((r: IteratorResult<ExecutionResult>) => void) | null = null;
  private reject: ((err: unknown) => void) | null = null;
  private failure: unknown = null;
  readonly stream: AsyncGenerator<ExecutionResult>;

  constructor(
    readonly ctx: Subscriber,
    after: bigint | null,
    private readonly leave: (m: Member) => void,
  ) {
    this.last = after;
    const done: IteratorReturnResult<undefined> = { done: true, value: undefined };
    const stream: AsyncGenerator<ExecutionResult> = {
      // Frames go straight to the sink; the stream only says when the subscription is over (or failed).
      next: () => {
        if (this.failure !== null) return Promise.reject(this.failure);
        if (this.ended) return Promise.resolve(done);
        return new Promise((resolve, reject) => {
          this.settle = resolve;
          this.reject = reject;
        });
      },
      return: async () => {
        this.end();
        return done;
      },
      throw: async (err: unknown) => {
        this.end();
        throw err;
      },
      [Symbol.asyncIterator]: () => stream,
    };
    this.stream = stream;
  }

  /** Leaves the group at once (graphql-ws calls return() synchronously on complete and on close). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.leave(this);
    this.settle?.({ done: true, value: undefined });
    this.settle = this.reject = null;
  }

  fail(err: unknown): void {
    if (this.ended) return;
    this.failure = err;
    this.ended = true;
    this.leave(this);
    this.reject?.(err);
    this.settle = this.reject = null;
  }
}

export interface GroupSpec {
  tenant: string;
  schema: GraphQLSchema;
  document: DocumentNode;
  operationName: string | undefined;
  variableValues: Record<string, unknown>;
  accept: (e: SyncEvent) => boolean;
  read: (ctx: Subscriber, after: string) => Promise<SyncEvent[]>;
}

/**
 * Subscribers of one tenant whose document, variables (the resume point aside) and authorization-relevant facts give
 * the same answer. Events are processed one at a time by the group (an actor): executed once, serialized once, the
 * same frame handed to every member's sink. Members that resume with `after` are served from the group's recent
 * history when it reaches back far enough, else by a ledger read shared by all members waiting at that moment,
 * taken under the instance's bounded, fair replay queue.
 */
export class Group {
  readonly live = new Set<Member>();
  private waiting: Member[] = [];
  private history: History | null = null;
  private inbox: SyncEvent[] = [];
  private busy = false;
  private permitRequested = false;
  private permit: Release | null = null;
  closed = false;
  /** The context executions run as: a current member with the latest-expiring token. */
  private rep: Subscriber;

  constructor(
    private readonly spec: GroupSpec,
    first: Subscriber,
    private readonly ready: Promise<void>,
    private readonly opts: GroupOptions,
    private readonly dispose: (g: Group) => void,
  ) {
    this.rep = first;
    // Runs once at the start so that a failed bus subscription reaches the members even if no event ever comes.
    queueMicrotask(() => this.pump());
  }

  get size(): number {
    return this.live.size + this.waiting.length;
  }

  add(m: Member): void {
    if (m.ctx.principal.exp > this.rep.principal.exp) this.rep = m.ctx;
    if (m.last === null) {
      m.last = this.history ? this.history.head : null;
      this.live.add(m);
    } else if (this.serveFromHistory(m)) {
      this.opts.onResume?.('history');
    } else {
      this.opts.onResume?.('ledger');
      this.waiting.push(m);
      this.requestReplay();
    }
  }

  remove(m: Member): void {
    this.live.delete(m);
    const i = this.waiting.indexOf(m);
    if (i !== -1) this.waiting.splice(i, 1);
    if (this.size === 0) {
      this.close();
      return;
    }
    if (this.rep === m.ctx) {
      // Its token may expire while the others' live on: executions move to the latest-expiring remaining member.
      let best: Member | null = null;
      for (const other of [...this.live, ...this.waiting]) if (!best || other.ctx.principal.exp > best.ctx.principal.exp) best = other;
      if (best) this.rep = best.ctx;
    }
  }

  push(e: SyncEvent): void {
    if (this.closed) return;
    if (this.inbox.length >= this.opts.maxBuffered) {
      // The group cannot keep up (entity fields slower than the events): dropping beats buffering without bound;
      // clients reconnect and resume with `after`.
      this.inbox = [];
      for (const m of [...this.live, ...this.waiting]) m.ctx.sink.dropSlow();
      return;
    }
    this.inbox.push(e);
    this.pump();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.inbox = [];
    this.permit?.();
    this.permit = null;
    this.dispose(this);
  }

  private pump(): void {
    if (this.busy || this.closed) return;
    this.busy = true;
    this.run().then(
      () => {
        this.busy = false;
        if (!this.closed && (this.inbox.length > 0 || this.permit)) this.pump();
      },
      (err: unknown) => {
        this.busy = false;
        this.failAll(err);
      },
    );
  }

  private async run(): Promise<void> {
    await this.ready;
    while (!this.closed) {
      const permit = this.permit;
      if (permit) {
        this.permit = null;
        try {
          await this.replay();
        } finally {
          permit();
        }
        continue;
      }
      const e = this.inbox.shift();
      if (!e) return;
      await this.onLive(e);
    }
  }

  private requestReplay(): void {
    if (this.permitRequested) return;
    this.permitRequested = true;
    void this.opts.replays.acquire(this.spec.tenant).then((release) => {
      this.permitRequested = false;
      if (this.closed) {
        release();
        return;
      }
      this.permit = release;
      this.pump();
    });
  }

  private frameOf(e: SyncEvent): Frame | null | Promise<Frame | null> {
    if (!this.spec.accept(e)) return null;
    const result = execute({
      schema: this.spec.schema, document: this.spec.document, rootValue: e, contextValue: this.rep, variableValues: this.spec.variableValues,
      operationName: this.spec.operationName, fieldResolver: aliasAwareFieldResolver,
    });
    const toFrame = (r: ExecutionResult): Frame => {
      if (r.errors?.length) return { result: r };
      const json = JSON.stringify(r);
      return { shared: { json, utf8: Buffer.from(json) } };
    };
    return isPromise(result) ? result.then(toFrame) : toFrame(result);
  }

  /**
   * Adds the next event to the history and hands its frame to every live member that has not passed it, yielding to
   * the event loop (setImmediate) whenever the instance's write budget for this turn is spent (`pace`), so one event
   * to thousands of sockets does not hold the loop: pongs, handshakes, HTTP requests run in between. Members joining or leaving
   * meanwhile are safe: a joining one starts after this event or was served it from the history (its `last` says so),
   * a leaving one is skipped. Returns the number of members written to.
   */
  private async append(entry: Entry, fromBus: boolean): Promise<number> {
    let h = this.history;
    if (!h) h = this.history = { from: entry.id - 1n, head: entry.id - 1n, entries: [] };
    if (entry.id <= h.head) return 0;
    h.head = entry.id;
    h.entries.push(entry);
    if (h.entries.length > this.opts.historySize) h.from = (h.entries.shift() as Entry).id;
    const frame = entry.frame;
    if (frame === null) {
      for (const m of this.live) if (m.last === null ? fromBus : entry.id > m.last) m.last = entry.id;
      return 0;
    }
    let written = 0;
    for (const m of this.live) {
      // A live-only member that has seen nothing yet starts with the next event from the bus, not with a gap read.
      if (m.last === null ? !fromBus : entry.id <= m.last) continue;
      m.last = entry.id;
      deliver(m.ctx.sink, frame);
      written += 1;
      if (this.opts.pace.spend()) {
        await nextTurn();
        if (this.closed) break;
      }
    }
    return written;
  }

  private async onLive(e: SyncEvent): Promise<void> {
    const started = performance.now();
    const id = BigInt(e.eventId);
    const h = this.history;
    if (h && id <= h.head) return;
    // Relays in several processes can publish out of order: read the gap from the ledger, once for the group.
    if (h && id > h.head + 1n) await this.walk(h.head, id, []);
    if (this.closed || (this.history && id <= this.history.head)) return;
    const frame = this.frameOf(e);
    const written = await this.append({ id, frame: isPromise(frame) ? await frame : frame }, true);
    if (written > 0) this.opts.onFanOut?.((performance.now() - started) / 1000, written);
  }

  /**
   * Reads stored events after `from` (up to `upTo`, exclusive, or the ledger's end), extending the history where it
   * continues it and delivering to `walkers` (members resuming) what they have not passed. Stops early once the
   * history holds the rest. Returns the last id read.
   */
  private async walk(from: bigint, upTo: bigint | null, walkers: readonly Member[]): Promise<{ cursor: bigint; exhausted: boolean }> {
    let cursor = from;
    for (;;) {
      this.opts.onLedgerRead?.();
      const page = await this.spec.read(this.rep, cursor.toString());
      for (const e of page) {
        const id = BigInt(e.eventId);
        if (upTo !== null && id >= upTo) return { cursor, exhausted: true };
        cursor = id;
        const pending = this.frameOf(e);
        const frame = isPromise(pending) ? await pending : pending;
        if (this.closed) return { cursor, exhausted: true };
        await this.append({ id, frame }, false);
        for (const m of walkers) {
          if (m.ended || m.last === null || id <= m.last) continue;
          m.last = id;
          if (frame) deliver(m.ctx.sink, frame);
        }
      }
      if (page.length < PAGE) return { cursor, exhausted: true };
      const h = this.history;
      if (h && h.from <= cursor && cursor < h.head) return { cursor, exhausted: false };
    }
  }

  /** Catches a resuming member up from the history and makes it live, if the history reaches back to its position. */
  private serveFromHistory(m: Member): boolean {
    const h = this.history;
    if (!h || m.last === null || m.last < h.from) return false;
    for (const entry of h.entries) {
      if (entry.id <= m.last) continue;
      m.last = entry.id;
      if (entry.frame) deliver(m.ctx.sink, entry.frame);
    }
    this.live.add(m);
    return true;
  }

  /** Serves every member waiting now with one ledger walk from the earliest position among them. */
  private async replay(): Promise<void> {
    const batch = this.waiting.filter((m) => !m.ended && !this.serveFromHistory(m));
    this.waiting = [];
    if (batch.length === 0) return;
    let start = batch[0]?.last ?? 0n;
    for (const m of batch) if (m.last !== null && m.last < start) start = m.last;
    if (!this.history) this.history = { from: start, head: start, entries: [] };
    // Members being walked are not live and not waiting: keep them countable so the group stays open meanwhile.
    this.waiting = [...batch];
    let exhausted: boolean;
    try {
      ({ exhausted } = await this.walk(start, null, batch));
    } catch (err) {
      for (const m of batch) m.fail(err);
      return;
    }
    const walked = new Set(batch);
    this.waiting = this.waiting.filter((m) => !walked.has(m));
    for (const m of batch) {
      if (m.ended) continue;
      const h = this.history;
      // The ledger has nothing more: what lies between the member and the history is not stored (nothing to miss).
      if (exhausted && h && m.last !== null && m.last < h.from) m.last = h.from;
      if (!this.serveFromHistory(m)) {
        this.waiting.push(m);
        this.requestReplay();
      }
    }
  }

  private failAll(err: unknown): void {
    for (const m of [...this.live, ...this.waiting]) m.fail(err);
  }
}

