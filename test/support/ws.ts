import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';

interface Received {
  data?: Record<string, unknown> | null;
  errors?: readonly { message: string; path?: readonly (string | number)[]; extensions?: Record<string, unknown> }[];
}

/** A real graphql-ws client against a gateway URL; `closed` resolves with the close code the server sent. */
export function wsClient(httpUrl: string, token: string | null): { client: Client; closed: Promise<number> } {
  let onClosed: (code: number) => void = () => undefined;
  const closed = new Promise<number>((resolve) => (onClosed = resolve));
  const client = createClient({
    url: httpUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: false,
    // Tests read the close code from `closed`; graphql-ws would also console.error every close of a non-lazy client
    // (a server shutting down at the end of each file printed ~270 lines per run).
    onNonLazyError: () => undefined,
    on: { closed: (event) => onClosed((event as { code: number }).code) },
  });
  return { client, closed };
}

/** Collects results of one subscription; `next(n)` resolves when n results have arrived in total. */
export function collect(client: Client, query: string, variables: Record<string, unknown> = {}) {
  const results: Received[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let error: unknown = null;
  const dispose = client.subscribe(
    { query, variables },
    {
      next: (value) => {
        results.push(value as Received);
        for (const w of waiters.filter((x) => results.length >= x.n)) w.resolve();
      },
      error: (err) => {
        error = err;
        for (const w of waiters) w.resolve();
      },
      complete: () => undefined,
    },
  );
  return {
    results,
    get error() {
      return error;
    },
    dispose,
    next: (n: number) => new Promise<void>((resolve) => (results.length >= n || error ? resolve() : waiters.push({ n, resolve }))),
  };
}
