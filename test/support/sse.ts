import type { Client } from 'graphql-sse';

export interface Received {
  data?: Record<string, unknown> | null;
  errors?: readonly { message: string; path?: readonly (string | number)[]; extensions?: Record<string, unknown> }[];
}

/** Collects one graphql-sse subscription; `next(n)` resolves once n results arrived, or the stream ended. */
export function sseCollect(client: Client, query: string, variables: Record<string, unknown> = {}) {
  const results: Received[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const state: { error: unknown; completed: boolean } = { error: null, completed: false };
  const wake = () => {
    for (const w of waiters.filter((x) => results.length >= x.n || state.error !== null || state.completed)) w.resolve();
  };
  const dispose = client.subscribe(
    { query, variables },
    {
      next: (value) => {
        results.push(value as Received);
        wake();
      },
      error: (err) => {
        state.error = err;
        wake();
      },
      complete: () => {
        state.completed = true;
        wake();
      },
    },
  );
  return {
    results,
    state,
    dispose,
    next: (n: number) => new Promise<void>((resolve) => (results.length >= n || state.error !== null || state.completed ? resolve() : waiters.push({ n, resolve }))),
    ended: () => new Promise<void>((resolve) => (state.error !== null || state.completed ? resolve() : waiters.push({ n: Number.POSITIVE_INFINITY, resolve }))),
  };
}

