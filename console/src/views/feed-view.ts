import { el, state, time } from '../dom';
import { FEED_WINDOW, type FeedEvent } from '../feed';

const SYSTEMS = ['CRM', 'ERP', 'BILLING'];
const STATES = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'DEAD_LETTERED', 'CANCELLED', 'COMPENSATED'];

interface Filter {
  system: string;
  state: string;
  entity: string;
}

function matches(e: FeedEvent, f: Filter): boolean {
  const entity = f.entity.trim().toLowerCase();
  return (
    (!f.system || e.targetSystem === f.system) &&
    (!f.state || e.state === f.state) &&
    (!entity || e.entityId.toLowerCase().includes(entity) || e.entityType.toLowerCase() === entity)
  );
}

/**
 * The live feed: every event the tab received, newest first, filtered in the page (the tab keeps the whole stream so
 * a filter change shows at once what it already has).
 */
export function feedView(root: HTMLElement, initial: readonly FeedEvent[]): { add(e: FeedEvent): void } {
  const filter: Filter = { system: '', state: '', entity: '' };
  const rows = el('tbody');
  const shown = el('span', { class: 'muted', id: 'feed-count' });
  const select = (id: string, label: string, values: string[], key: 'system' | 'state') =>
    el('label', {}, label, ' ', el('select', { id, onchange: (e) => { filter[key] = (e.target as HTMLSelectElement).value; apply(); } },
      el('option', { value: '' }, 'all'), ...values.map((v) => el('option', { value: v }, v))));
  root.append(
    el('div', { class: 'toolbar' },
      select('feed-system', 'System', SYSTEMS, 'system'),
      select('feed-state', 'State', STATES, 'state'),
      el('label', {}, 'Entity ', el('input', { id: 'feed-entity', placeholder: 'id or type (Account)', oninput: (e) => { filter.entity = (e.target as HTMLInputElement).value; apply(); } })),
      shown),
    el('table', { id: 'feed' },
      el('thead', {}, el('tr', {}, ...['Event', 'At', 'State', 'Kind', 'Entity', 'Target', 'Attempt', 'Error', 'Job', 'Correlation'].map((h) => el('th', {}, h)))),
      rows),
  );
  const row = (e: FeedEvent) => {
    const tr = el('tr', { 'data-event-id': e.eventId, 'data-job-id': e.jobId ?? '', 'data-state': e.state },
      el('td', { class: 'num' }, e.eventId), el('td', {}, time(e.at)), el('td', {}, state(e.state)), el('td', {}, e.kind),
      el('td', {}, `${e.entityType} `, el('code', {}, e.entityId)), el('td', {}, e.targetSystem ?? ''), el('td', { class: 'num' }, e.attempts),
      el('td', { class: 'error' }, e.errorCode ? `${e.errorCode}: ${e.message ?? ''}` : ''), el('td', {}, el('code', {}, e.jobId ?? '')),
      el('td', {}, el('code', {}, e.correlationId)));
    tr.hidden = !matches(e, filter);
    return tr;
  };
  const count = () => {
    const visible = rows.querySelectorAll('tr:not([hidden])').length;
    shown.textContent = `${visible} of ${rows.children.length} events`;
  };
  const apply = () => {
    for (const tr of Array.from(rows.children) as HTMLTableRowElement[]) {
      const e = events.get(tr.dataset['eventId'] ?? '');
      tr.hidden = !e || !matches(e, filter);
    }
    count();
  };
  const events = new Map<string, FeedEvent>();
  const add = (e: FeedEvent) => {
    events.set(e.eventId, e);
    rows.prepend(row(e));
    while (rows.children.length > FEED_WINDOW) {
      const last = rows.lastElementChild as HTMLTableRowElement | null;
      if (!last) break;
      events.delete(last.dataset['eventId'] ?? '');
      last.remove();
    }
    count();
  };
  for (const e of initial) add(e);
  count();
  return { add };
}
