import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { exportedSeriesNames, metricNamesIn } from './support/promql';

const DIR = join(__dirname, '..', 'ops', 'grafana');
const RULES = readFileSync(join(__dirname, '..', 'ops', 'prometheus', 'alerts.yml'), 'utf8');

interface Target { expr?: string }
interface Panel { title?: string; targets?: Target[]; panels?: Panel[] }
interface Dashboard { panels: Panel[]; templating?: { list: { query?: string | { query?: string } }[] } }

function queriesOf(d: Dashboard): { where: string; expr: string }[] {
  const walk = (panels: Panel[]): { where: string; expr: string }[] =>
    panels.flatMap((p) => [...(p.targets ?? []).map((t) => ({ where: p.title ?? '?', expr: t.expr ?? '' })), ...walk(p.panels ?? [])]);
  const variables = (d.templating?.list ?? []).flatMap((v) => {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    const m = q ? /^label_values\((\w+)/.exec(q) : null;
    return m ? [{ where: 'variable', expr: m[1] ?? '' }] : [];
  });
  return [...walk(d.panels), ...variables];
}

describe('Grafana dashboards (ops/grafana)', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));

  it.each(files)('%s: every query names metrics the product exports (or recording rules of alerts.yml)', async (file) => {
    const dashboard = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Dashboard;
    const exported = await exportedSeriesNames();
    const recorded = new Set([...RULES.matchAll(/^\s*- record: (\S+)$/gm)].map((m) => m[1]));
    const queries = queriesOf(dashboard);
    expect(queries.length).toBeGreaterThan(20);
    const problems = queries.flatMap(({ where, expr }) => {
      const names = metricNamesIn(expr);
      if (names.length === 0) return [`${where}: no metric in ${expr}`];
      return names.filter((n) => !exported.has(n) && !recorded.has(n)).map((n) => `${where}: ${n}`);
    });
    expect(problems).toEqual([]);
  });

  it('covers every metric family of the product except Node process internals', async () => {
    const dashboard = JSON.parse(readFileSync(join(DIR, 'sor-overview.json'), 'utf8')) as Dashboard;
    const used = new Set(queriesOf(dashboard).flatMap(({ expr }) => metricNamesIn(expr)).map((n) => n.replace(/_(bucket|sum|count)$/, '')));
    const ours = [...(await exportedSeriesNames())].filter((n) => n.startsWith('sor_') && !n.startsWith('sor_process_') && !n.startsWith('sor_nodejs_') && !/_(bucket|sum|count)$/.test(n));
    const shown = (n: string) => used.has(n) || (n === 'sor_sync_latency_seconds' && used.has('sor:sync_latency_p95_seconds'));
    expect(ours.filter((n) => !shown(n))).toEqual([]);
  });
});
