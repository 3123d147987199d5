import { el, state, time } from '../dom';
import type { FeedEvent } from '../feed';
import { request } from '../graphql';
import type { Abilities, Session } from '../session';

interface Job {
  id: string;
  kind: string;
  entityType: string;
  entityId: string;
  targetSystem: string | null;
  state: string;
  attempts: number;
  maxAttempts: number;
  lastErrorCode: string | null;
  lastErrorMessage: string | null;
  correlationId: string;
  updatedAt: string;
  history: { eventId: string; state: string; at: string; errorCode: string | null; message: string | null }[];
}

const QUERY = `query OpsDeadLetters($filter: SyncJobFilter) { syncJobs(filter: $filter, first: 100) { nodes {
  id kind entityType entityId targetSystem state attempts maxAttempts lastErrorCode lastErrorMessage correlationId updatedAt
  history { eventId state at errorCode message } } } }`;

/**
 * Dead-lettered jobs with their error and history; replay one or all matching (sync:write only: without it no button
 * is drawn, and the server refuses the mutation anyway). Rows follow the feed: a replayed job's state changes live.
 */
export function deadLettersView(root: HTMLElement, session: Session, can: Abilities, say: (m: string) => void): { onEvent(e: FeedEvent): void; refresh(): Promise<void> } {
  const rows = el('tbody');
  const system = el('select', { id: 'dl-system' }, el('option', { value: '' }, 'all'), ...['CRM', 'ERP', 'BILLING'].map((s) => el('option', { value: s }, s)));
  const entity = el('input', { id: 'dl-entity', placeholder: 'entity id' });
  const count = el('span', { class: 'muted', id: 'dl-count' });
  const filter = () => ({ states: ['DEAD_LETTERED'], ...(system.value ? { targetSystem: system.value } : {}), ...(entity.value.trim() ? { entityId: entity.value.trim() } : {}) });
  const stateCells = new Map<string, HTMLElement>();

  const replay = async (id: string, button: HTMLButtonElement) => {
    button.disabled = true;
    try {
      const r = await request<{ replaySyncJob: { state: string } }>(session, 'mutation OpsReplay($id: ID!) { replaySyncJob(id: $id) { state } }', { id });
      setState(id, r.replaySyncJob.state);
      say(`Job ${id} queued again`);
    } catch (err) {
      button.disabled = false;
      say(`Replay of ${id} refused: ${(err as Error).message}`);
    }
  };
  const replayAll = async (button: HTMLButtonElement) => {
    button.disabled = true;
    try {
      const r = await request<{ replayDeadLetters: number }>(session, 'mutation OpsReplayAll($filter: SyncJobFilter) { replayDeadLetters(filter: $filter) }', { filter: filter() });
      say(`${r.replayDeadLetters} dead letters queued again`);
    } catch (err) {
      say(`Replay refused: ${(err as Error).message}`);
    } finally {
      button.disabled = false;
    }
  };
  const setState = (id: string, value: string) => {
    const cell = stateCells.get(id);
    if (!cell) return;
    cell.replaceChildren(state(value));
    cell.closest('tr')?.setAttribute('data-state', value);
  };

  const refresh = async () => {
    const { syncJobs } = await request<{ syncJobs: { nodes: Job[] } }>(session, QUERY, { filter: filter() });
    stateCells.clear();
    rows.replaceChildren(...syncJobs.nodes.map((j) => {
      const stateCell = el('td', { class: 'job-state' }, state(j.state));
      stateCells.set(j.id, stateCell);
      const button = can.writeSync ? el('button', { class: 'replay', 'data-job-id': j.id }, 'Replay') : null;
      button?.addEventListener('click', () => void replay(j.id, button));
      return el('tr', { 'data-job-id': j.id, 'data-entity-id': j.entityId, 'data-state': j.state },
        el('td', {}, el('code', {}, j.id)), el('td', {}, j.kind), el('td', {}, `${j.entityType} `, el('code', {}, j.entityId)),
        el('td', {}, j.targetSystem ?? ''), stateCell, el('td', { class: 'num' }, `${j.attempts}/${j.maxAttempts}`),
        el('td', { class: 'error' }, `${j.lastErrorCode ?? ''}: ${j.lastErrorMessage ?? ''}`),
        el('td', {}, el('details', {}, el('summary', {}, `${j.history.length} transitions`),
          el('ol', { class: 'history' }, ...j.history.map((h) => el('li', {}, time(h.at), ' ', state(h.state), h.errorCode ? ` ${h.errorCode}: ${h.message ?? ''}` : ''))))),
        el('td', {}, button));
    }));
    count.textContent = `${syncJobs.nodes.length} dead letters`;
  };

  const replayAllButton = can.writeSync ? el('button', { id: 'dl-replay-all' }, 'Replay all matching') : null;
  replayAllButton?.addEventListener('click', () => void replayAll(replayAllButton));
  root.append(
    el('div', { class: 'toolbar' },
      el('label', {}, 'Target ', system), el('label', {}, 'Entity ', entity),
      el('button', { id: 'dl-refresh', onclick: () => void refresh().catch((e: Error) => say(e.message)) }, 'Refresh'),
      replayAllButton ?? el('span', { class: 'muted', id: 'dl-read-only' }, 'read-only token: replay needs sync:write'), count),
    el('table', { id: 'dead-letters' },
      el('thead', {}, el('tr', {}, ...['Job', 'Kind', 'Entity', 'Target', 'State', 'Attempts', 'Error', 'History', ''].map((h) => el('th', {}, h)))),
      rows),
  );
  system.addEventListener('change', () => void refresh().catch((e: Error) => say(e.message)));
  entity.addEventListener('change', () => void refresh().catch((e: Error) => say(e.message)));

  let pending: ReturnType<typeof setTimeout> | null = null;
  return {
    refresh,
    onEvent(e) {
      if (e.jobId) setState(e.jobId, e.state);
      // A new dead letter: list it (debounced, a burst of failures is one read).
      if (e.state === 'DEAD_LETTERED' && !pending) {
        pending = setTimeout(() => {
          pending = null;
          void refresh().catch((err: Error) => say(err.message));
        }, 300);
      }
    },
  };
}
