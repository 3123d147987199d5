import { el, time } from '../dom';
import { request } from '../graphql';
import type { Abilities, Session } from '../session';

interface Report {
  id: string;
  startedAt: string;
  finishedAt: string | null;
  accountsChecked: number;
  drift: { entityType: string; entityId: string; system: string; kind: string; field: string | null; expected: string | null; actual: string | null; repairQueued: boolean }[];
}

const REPORT = 'id startedAt finishedAt accountsChecked drift { entityType entityId system kind field expected actual repairQueued }';

/** The latest reconciliation report; "Run now" (sync:write) reconciles the tenant at once and shows the new report. */
export function reconciliationView(root: HTMLElement, session: Session, can: Abilities, say: (m: string) => void): { refresh(): Promise<void> } {
  const summary = el('p', { id: 'recon-summary' });
  const rows = el('tbody');
  const show = (r: Report | null) => {
    if (!r) {
      summary.textContent = 'No reconciliation has run for this tenant yet.';
      rows.replaceChildren();
      return;
    }
    summary.textContent = `Report ${r.id}: ${r.accountsChecked} accounts checked, ${r.drift.length} drift items, started ${new Date(r.startedAt).toLocaleString()}${r.finishedAt ? `, finished ${time(r.finishedAt)}` : ' (running)'}`;
    summary.dataset['reportId'] = r.id;
    rows.replaceChildren(...r.drift.map((d) => el('tr', { 'data-entity-id': d.entityId },
      el('td', {}, `${d.entityType} `, el('code', {}, d.entityId)), el('td', {}, d.system), el('td', {}, d.kind), el('td', {}, d.field ?? ''),
      el('td', {}, d.expected ?? ''), el('td', {}, d.actual ?? ''), el('td', {}, d.repairQueued ? 'repair queued' : 'report only'))));
  };
  const refresh = async () => show((await request<{ latestReconciliation: Report | null }>(session, `query OpsReconciliation { latestReconciliation { ${REPORT} } }`)).latestReconciliation);
  const run = async (button: HTMLButtonElement) => {
    button.disabled = true;
    try {
      show((await request<{ reconcile: Report }>(session, `mutation OpsReconcile { reconcile { ${REPORT} } }`)).reconcile);
      say('Reconciliation finished');
    } catch (err) {
      say(`Reconciliation refused: ${(err as Error).message}`);
    } finally {
      button.disabled = false;
    }
  };
  const runButton = can.writeSync ? el('button', { id: 'recon-run' }, 'Run now') : null;
  runButton?.addEventListener('click', () => void run(runButton));
  root.append(
    el('div', { class: 'toolbar' }, el('button', { onclick: () => void refresh().catch((e: Error) => say(e.message)) }, 'Refresh'), runButton),
    summary,
    el('table', { id: 'drift' }, el('thead', {}, el('tr', {}, ...['Entity', 'System', 'Drift', 'Field', 'Expected', 'Actual', ''].map((h) => el('th', {}, h)))), rows),
  );
  return { refresh };
}
