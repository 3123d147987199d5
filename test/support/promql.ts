import '../../lib/telemetry/gateway-metrics';
import '../../lib/telemetry/sync-metrics';
import '../../subgraphs/sync/ledger-metrics';
import { collectProcessMetrics, registry } from '../../lib/telemetry/registry';

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan', 'le']);

/**
 * The series names a PromQL expression selects: string literals, label matchers, ranges, grouping label lists and
 * Grafana variables are removed first; what is left that is an identifier and not a function call or keyword is a
 * metric (or a recording rule's name, which has a colon).
 */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, name = '', call] = m;
    if (call || KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names];
}

/** Every series name the product exports (histograms with their _bucket, _sum and _count series). */
export async function exportedSeriesNames(): Promise<Set<string>> {
  collectProcessMetrics();
  const names = new Set<string>();
  for (const m of await registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
  }
  return names;
}
