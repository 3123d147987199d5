import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportedSeriesNames, metricNamesIn } from './support/promql';

const DIR = join(__dirname, '..', 'ops', 'prometheus');

function promtool(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { cwd: DIR, encoding: 'utf8' });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error('promtool is not on the PATH. It comes with the Debian package `prometheus`: apt-get update -qq && apt-get install -y -qq prometheus');
  }
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('alert rules (ops/prometheus)', () => {
  const rules = readFileSync(join(DIR, 'alerts.yml'), 'utf8');
  const tests = readFileSync(join(DIR, 'alerts.test.yml'), 'utf8');
  const alerts = [...rules.matchAll(/^\s*- alert: (\w+)$/gm)].map((m) => m[1] ?? '');

  it('are valid and their promtool unit tests pass', () => {
    const check = promtool('check', 'rules', 'alerts.yml');
    expect(check.output).toContain('SUCCESS');
    expect(check.status).toBe(0);
    const unit = promtool('test', 'rules', 'alerts.test.yml');
    if (unit.status !== 0) throw new Error(unit.output);
    expect(unit.output).toContain('SUCCESS');
  });

  it('each alert is tested both firing and not firing', () => {
    expect(alerts).toEqual(['SyncDeadLettersGrowing', 'SyncLatencyAboveSLO', 'SyncOldestPendingJobTooOld', 'GatewayErrorRatioHigh', 'ConnectorCircuitOpen', 'WebhookRefusals']);
    const cases = [...tests.matchAll(/alertname: (\w+)\n\s*exp_alerts:( \[\])?/g)].map((m) => ({ alert: m[1], fires: m[2] === undefined }));
    for (const alert of alerts) {
      expect({ alert, fires: cases.some((c) => c.alert === alert && c.fires), silent: cases.some((c) => c.alert === alert && !c.fires) }).toEqual({ alert, fires: true, silent: true });
    }
  });

  it('only name metrics the product exports or rules defined in the file', async () => {
    const exported = await exportedSeriesNames();
    const recorded = new Set([...rules.matchAll(/^\s*- record: (\S+)$/gm)].map((m) => m[1]));
    const exprs = [...rules.matchAll(/expr: (?:\|\n((?:\s{10}.*\n)+)|(.*))/g)].map((m) => m[1] ?? m[2] ?? '');
    expect(exprs.length).toBe(alerts.length + recorded.size);
    expect(exprs.flatMap(metricNamesIn)).toEqual(expect.arrayContaining(['sor_sync_dead_letter_jobs', 'sor_sync_latency_seconds_bucket', 'sor:sync_latency_slo_seconds']));
    const unknown = exprs.flatMap(metricNamesIn).filter((n) => !exported.has(n) && !recorded.has(n));
    expect(unknown).toEqual([]);
  });
});
