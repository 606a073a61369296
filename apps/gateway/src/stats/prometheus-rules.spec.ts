// The example alert rules (k8s/monitoring/prometheus-rules.yaml) parse as Prometheus rule groups and use only
// metric names the processes export, so a renamed metric cannot leave an alert that never fires.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { Metrics } from '@nso/monitoring';

const RULES = join(__dirname, '..', '..', '..', '..', 'k8s', 'monitoring', 'prometheus-rules.yaml');

/** Gauges the gateway registers at start-up (metrics.collectors.ts), besides those of Metrics itself. */
const COLLECTED = [
  'nso_queue_jobs',
  'nso_batches',
  'nso_agent_tasks',
  'nso_runs',
  'nso_client_up',
  'nso_client_last_seen_timestamp_seconds',
  'nso_run_last_progress_timestamp_seconds',
];

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

describe('example Prometheus alert rules', () => {
  const rules = load(readFileSync(RULES, 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> };
  const all = rules.groups.flatMap((group) => group.rules);

  it('are rule groups of alerts, each with an expression, a duration and a summary', () => {
    expect(rules.groups.length).toBeGreaterThan(0);
    for (const rule of all) {
      expect(rule.alert).toMatch(/^Nso[A-Za-z]+$/);
      expect(typeof rule.expr).toBe('string');
      expect(rule.for).toMatch(/^\d+[smh]$/);
      expect(rule.annotations?.summary).toBeTruthy();
    }
    expect(all.map((r) => r.alert)).toEqual(
      expect.arrayContaining(['NsoBatchQueueStalled', 'NsoClientOffline', 'NsoRunNoProgress']),
    );
  });

  it('use only metric names the processes export', async () => {
    const metrics = new Metrics();
    const exported = new Set([
      ...(await metrics.registry.getMetricsAsJSON()).map((m) => m.name),
      ...COLLECTED,
    ]);
    for (const rule of all) {
      for (const [name] of rule.expr.matchAll(/\bnso_[a-z_]+/g)) {
        const base = name.replace(/_(count|sum|bucket)$/, '');
        expect({ alert: rule.alert, metric: name, exported: exported.has(base) }).toEqual({
          alert: rule.alert,
          metric: name,
          exported: true,
        });
      }
    }
  });
});
