import { el, state, time } from '../dom';
import { request } from '../graphql';
import type { Session } from '../session';

interface Connection {
  id: string;
  system: string;
  adapter: string;
  enabled: boolean;
  webhookPath: string | null;
  updatedAt: string;
  status: { state: string; lastError: string | null; lastErrorAt: string | null };
}

/** The tenant's vendor connections and how their calls are going (scope admin). */
export function connectionsView(root: HTMLElement, session: Session, say: (m: string) => void): { refresh(): Promise<void> } {
  const rows = el('tbody');
  const note = el('p', { class: 'muted' });
  const refresh = async () => {
    const { connections } = await request<{ connections: Connection[] }>(session,
      'query OpsConnections { connections { id system adapter enabled webhookPath updatedAt status { state lastError lastErrorAt } } }');
    note.textContent = connections.length ? '' : 'No connections: every system uses the built-in reference store.';
    rows.replaceChildren(...connections.map((c) => el('tr', { 'data-connection-id': c.id },
      el('td', {}, c.system), el('td', {}, c.adapter), el('td', {}, c.enabled ? 'enabled' : 'disabled'), el('td', {}, state(c.status.state)),
      el('td', { class: 'error' }, c.status.lastError ? `${c.status.lastError} (${time(c.status.lastErrorAt)})` : ''),
      el('td', {}, el('code', {}, c.webhookPath ?? '')), el('td', {}, el('code', {}, c.id)))));
  };
  root.append(
    el('div', { class: 'toolbar' }, el('button', { onclick: () => void refresh().catch((e: Error) => say(e.message)) }, 'Refresh')),
    note,
    el('table', { id: 'connections' }, el('thead', {}, el('tr', {}, ...['System', 'Adapter', '', 'State', 'Last error', 'Webhook path', 'Id'].map((h) => el('th', {}, h)))), rows),
  );
  return { refresh };
}
