import type { Fetcher } from '@apollo/utils.fetcher';
import { Agent, fetch } from 'undici';

/**
 * Subgraph HTTP on undici with keep-alive and pipelining: the stock fetcher (make-fetch-happen) opens and tears down
 * connections and shows up as the gateway's biggest single cost in profiles.
 */
export function keepAliveFetcher(): { fetcher: Fetcher; close: () => Promise<void> } {
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 64, pipelining: 1 });
  const fetcher = ((url: string, init?: Parameters<Fetcher>[1]) =>
    fetch(url, { ...(init as object), dispatcher: agent })) as unknown as Fetcher;
  return { fetcher, close: () => agent.close() };
}
