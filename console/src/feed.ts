import { type Client, createClient } from 'graphql-ws/client';
import { RequestError, request } from './graphql';
import type { SyncEvent } from '../../gateway/subscriptions/sync-stream';
import type { Session } from './session';

/**
 * A stored sync event, as `syncStatusChanged { event { ... } }` delivers it: the gateway's own shape (a type-only
 * import: esbuild drops it, and sync-stream.ts imports nothing, so the console's DOM-only build checks it as is),
 * without the scope-tagged `messageParts` the gateway renders into `message` for each subscriber.
 */
export type FeedEvent = Omit<SyncEvent, 'messageParts'>;

export type FeedStatus = 'starting' | 'connecting' | 'live' | 'reconnecting' | 'stopped';

const EVENT_FIELDS = 'eventId jobId kind entityType entityId targetSystem state attempts errorCode message correlationId at';
const SUBSCRIPTION = `subscription OpsFeed($after: ID) { syncStatusChanged(after: $after) { eventId event { ${EVENT_FIELDS} } } }`;
const STORE_KEY = 'ops.feed';
/** Events kept (and shown) per tab; older ones drop off the end. */
export const FEED_WINDOW = 500;

interface Stored {
  tenant: string;
  cursor: string | null;
  events: FeedEvent[];
}

/**
 * The events this tab has shown and the id of the last one, kept in sessionStorage with every event: a reload
 * restores the list and resumes the subscription right after it (`after`), so no event is missed or shown twice.
 */
export class FeedStore {
  private data: Stored;

  constructor(private readonly tenant: string) {
    this.data = { tenant, cursor: null, events: [] };
    try {
      const parsed = JSON.parse(sessionStorage.getItem(STORE_KEY) ?? 'null') as Stored | null;
      if (parsed && parsed.tenant === tenant && Array.isArray(parsed.events)) this.data = parsed;
    } catch {
      // Unreadable: start a fresh feed (from the newest event).
    }
  }

  get cursor(): string | null {
    return this.data.cursor;
  }

  get events(): readonly FeedEvent[] {
    return this.data.events;
  }

  /** Where a fresh feed starts (nothing before it is shown). */
  start(cursor: string): void {
    this.data = { tenant: this.tenant, cursor, events: [] };
    this.save();
  }

  /** Adds an event unless it is at or before the cursor; true when added. */
  add(e: FeedEvent): boolean {
    if (this.data.cursor !== null && BigInt(e.eventId) <= BigInt(this.data.cursor)) return false;
    this.data.events.push(e);
    if (this.data.events.length > FEED_WINDOW) this.data.events.splice(0, this.data.events.length - FEED_WINDOW);
    this.data.cursor = e.eventId;
    this.save();
    return true;
  }

  private save(): void {
    sessionStorage.setItem(STORE_KEY, JSON.stringify(this.data));
  }
}

/**
 * The id of the tenant's newest stored job event, through the public `syncEvents(after, first: 1)` query (non-empty
 * exactly when an event exists after `after`): doubling, then bisecting, about 2·log2(N) small reads. Only a tab's
 * first feed needs it; later ones resume from their own cursor.
 */
export async function newestEventId(session: Session): Promise<string> {
  const exists = async (after: number) =>
    (await request<{ syncEvents: unknown[] }>(session, 'query OpsHead($after: ID!) { syncEvents(after: $after, first: 1) { eventId } }', { after: String(after) }))
      .syncEvents.length > 0;
  if (!(await exists(0))) return '0';
  let lo = 0;
  let hi = 1;
  while (await exists(hi)) {
    lo = hi;
    hi *= 2;
  }
  // Events exist after lo, none after hi: the newest is the smallest id with none after it.
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (await exists(mid)) lo = mid;
    else hi = mid;
  }
  return String(hi);
}

export interface FeedHandlers {
  onEvent(e: FeedEvent): void;
  onStatus(status: FeedStatus, detail?: string): void;
}

/** Codes after which subscribing again cannot help: the token or the request itself is refused. */
const FATAL_CODES = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT']);
const FATAL_CLOSE_CODES = new Set([4400, 4401, 4403]);

function wsUrl(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
}

/**
 * Runs the live feed until stopped: subscribes with `after` = the store's cursor and, whenever the connection drops,
 * subscribes again from the cursor it reached (graphql-ws's own retry would resend the first `after`). Returns stop().
 */
export function runFeed(session: Session, store: FeedStore, handlers: FeedHandlers): () => void {
  let stopped = false;
  let client: Client | null = null;
  let wake: (() => void) | null = null;

  const once = async (): Promise<'again' | 'fatal'> => {
    if (store.cursor === null) {
      handlers.onStatus('starting');
      store.start(await newestEventId(session));
    }
    handlers.onStatus('connecting');
    client = createClient({
      url: wsUrl(),
      connectionParams: { authorization: `Bearer ${session.token}` },
      retryAttempts: 0,
      keepAlive: 10_000,
      on: { connected: () => handlers.onStatus('live') },
    });
    try {
      const results = client.iterate<{ syncStatusChanged: { eventId: string; event: FeedEvent } }>({ query: SUBSCRIPTION, variables: { after: store.cursor } });
      for await (const result of results) {
        if (result.errors?.length) {
          const codes = result.errors.map((e) => String(e.extensions?.['code'] ?? ''));
          handlers.onStatus('stopped', result.errors.map((e) => e.message).join('; '));
          return codes.some((c) => FATAL_CODES.has(c)) ? 'fatal' : 'again';
        }
        const event = result.data?.syncStatusChanged.event;
        if (event && store.add(event)) handlers.onEvent(event);
      }
      return 'again';
    } catch (err) {
      return classify(err, handlers);
    } finally {
      void client.dispose();
      client = null;
    }
  };

  void (async () => {
    let delay = 500;
    while (!stopped) {
      const outcome = await once().catch((err: unknown) => classify(err, handlers));
      if (outcome === 'fatal' || stopped) break;
      handlers.onStatus('reconnecting');
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, delay);
      });
      delay = Math.min(delay * 2, 10_000);
    }
    if (stopped) handlers.onStatus('stopped', 'signed out');
  })();

  return () => {
    stopped = true;
    void client?.dispose();
    wake?.();
  };
}

function classify(err: unknown, handlers: FeedHandlers): 'again' | 'fatal' {
  if (err instanceof RequestError) {
    handlers.onStatus('stopped', err.message);
    return err.codes.some((c) => FATAL_CODES.has(c)) ? 'fatal' : 'again';
  }
  if (Array.isArray(err)) {
    const errors = err as { message?: string; extensions?: { code?: string } }[];
    handlers.onStatus('stopped', errors.map((e) => e.message ?? '').join('; '));
    return errors.some((e) => FATAL_CODES.has(e.extensions?.code ?? '')) ? 'fatal' : 'again';
  }
  if (typeof CloseEvent !== 'undefined' && err instanceof CloseEvent) {
    if (FATAL_CLOSE_CODES.has(err.code)) {
      handlers.onStatus('stopped', `closed by the server: ${err.code} ${err.reason}`);
      return 'fatal';
    }
    return 'again';
  }
  return 'again';
}
