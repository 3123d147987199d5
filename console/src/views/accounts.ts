import { el, state, time } from '../dom';
import type { FeedEvent } from '../feed';
import { request } from '../graphql';
import type { Session } from '../session';

interface Status {
  system: string;
  state: string;
  lastSyncedAt: string | null;
  lastError: string | null;
  connectionState: string | null;
}
interface Account {
  id: string;
  name: string;
  syncStatus: Status[] | null;
}
interface Page {
  accounts: { nodes: Account[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

/** Systems an account is synced to (CRM owns it: its status is the other systems'). */
const SYSTEMS = ['ERP', 'BILLING'];
const QUERY = `query OpsAccounts($filter: AccountFilter, $after: String) { accounts(filter: $filter, first: 25, after: $after) {
  nodes { id name syncStatus { system state lastSyncedAt lastError connectionState } } pageInfo { hasNextPage endCursor } } }`;

/** Each account's sync state per system (needs crm:read for the list and sync:read for the status). */
export function accountsView(root: HTMLElement, session: Session, say: (m: string) => void): { onEvent(e: FeedEvent): void; refresh(): Promise<void> } {
  const rows = el('tbody');
  const name = el('input', { id: 'acc-name', placeholder: 'name contains' });
  const more = el('button', { id: 'acc-more', hidden: true }, 'More');
  let cursor: string | null = null;
  const visible = new Set<string>();

  const cell = (s: Status | undefined) =>
    el('td', { title: s ? `${s.lastSyncedAt ? `last synced ${time(s.lastSyncedAt)}` : ''} ${s.lastError ?? ''} ${s.connectionState ?? ''}`.trim() : '' },
      s ? state(s.state) : '', s?.connectionState && s.connectionState !== 'OK' ? el('span', { class: 'muted' }, ` ${s.connectionState}`) : null);
  const row = (a: Account) => el('tr', { 'data-account-id': a.id }, el('td', {}, a.name, ' ', el('code', {}, a.id)),
    ...SYSTEMS.map((sys) => cell(a.syncStatus?.find((s) => s.system === sys))));

  const load = async (append: boolean) => {
    const filter = name.value.trim() ? { nameContains: name.value.trim() } : null;
    const { accounts } = await request<Page>(session, QUERY, { filter, after: append ? cursor : null });
    if (!append) {
      rows.replaceChildren();
      visible.clear();
    }
    for (const a of accounts.nodes) visible.add(a.id);
    rows.append(...accounts.nodes.map(row));
    cursor = accounts.pageInfo.endCursor;
    more.hidden = !accounts.pageInfo.hasNextPage;
  };
  const refreshOne = async (id: string) => {
    const r = await request<{ account: Account | null }>(session, 'query OpsAccount($id: ID!) { account(id: $id) { id name syncStatus { system state lastSyncedAt lastError connectionState } } }', { id });
    const tr = rows.querySelector(`tr[data-account-id="${CSS.escape(id)}"]`);
    if (r.account && tr) tr.replaceWith(row(r.account));
  };
  more.addEventListener('click', () => void load(true).catch((e: Error) => say(e.message)));
  name.addEventListener('change', () => void load(false).catch((e: Error) => say(e.message)));
  root.append(
    el('div', { class: 'toolbar' }, el('label', {}, 'Account ', name), el('button', { onclick: () => void load(false).catch((e: Error) => say(e.message)) }, 'Refresh')),
    el('table', { id: 'accounts' }, el('thead', {}, el('tr', {}, el('th', {}, 'Account (CRM)'), ...SYSTEMS.map((s) => el('th', {}, s)))), rows),
    more,
  );
  // A job about a listed account finished a step: re-read that account's status (debounced per account).
  const pending = new Map<string, ReturnType<typeof setTimeout>>();
  return {
    refresh: () => load(false),
    onEvent(e) {
      if (e.entityType !== 'Account' || !visible.has(e.entityId) || pending.has(e.entityId)) return;
      pending.set(e.entityId, setTimeout(() => {
        pending.delete(e.entityId);
        void refreshOne(e.entityId).catch((err: Error) => say(err.message));
      }, 300));
    },
  };
}
