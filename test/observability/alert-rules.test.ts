import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createMetrics } from '@hopper/telemetry';

const root = new URL('../../infra/', import.meta.url);

/** Every series name the processes export (histograms add _bucket, _count and _sum). */
async function exportedSeries(): Promise<Set<string>> {
  const names = new Set<string>(['up']);
  for (const service of ['gateway', 'worker'] as const) {
    const { registry } = createMetrics(service);
    for (const metric of await registry.getMetricsAsJSON()) {
      names.add(metric.name);
      if (String(metric.type) === 'histogram')
        for (const suffix of ['_bucket', '_count', '_sum']) names.add(metric.name + suffix);
    }
  }
  return names;
}

/** Metric names an expression reads: identifiers that are not functions, keywords or labels. */
function referencedMetrics(expr: string): string[] {
  const withoutLabels = expr
    .replace(/\{[^}]*\}/g, '')
    .replace(/by \([^)]*\)/g, '')
    .replace(/\[[^\]]*\]/g, '');
  const words = withoutLabels.match(/[a-z_][a-z0-9_]*/g) ?? [];
  const promql = new Set([
    'sum',
    'rate',
    'max',
    'min',
    'avg',
    'histogram_quantile',
    'absent',
    'by',
    'without',
    'and',
    'or',
    'unless',
    'count',
    'increase',
    'irate',
    'le',
    'tool',
    'queue',
    'service',
    'instance',
    'cache',
    'layer',
    'kind',
  ]);
  return words.filter((w) => !promql.has(w));
}

function balanced(expr: string): boolean {
  let depth = 0;
  for (const c of expr) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (depth < 0) return false;
  }
  return depth === 0;
}

describe('alert rules', () => {
  it('parse, are well formed, and only read metrics the code exports', async () => {
    const doc = parse(await readFile(new URL('prometheus/hopper-alerts.yml', root), 'utf8')) as {
      groups: {
        name: string;
        rules: {
          alert: string;
          expr: string;
          for: string;
          labels: { severity: string };
          annotations: { summary: string };
        }[];
      }[];
    };
    const series = await exportedSeries();
    const alerts = doc.groups.flatMap((g) => g.rules);
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        'HopperToolLatencyP99High',
        'HopperToolErrorRatioHigh',
        'HopperQueueBacklogOld',
        'HopperWorkersAbsent',
      ]),
    );
    for (const rule of alerts) {
      expect(balanced(rule.expr), rule.alert).toBe(true);
      expect(rule.for, rule.alert).toMatch(/^\d+[smh]$/);
      expect(['info', 'warning', 'critical']).toContain(rule.labels.severity);
      expect(rule.annotations.summary.length).toBeGreaterThan(10);
      for (const metric of referencedMetrics(rule.expr))
        expect(series, `${rule.alert} reads ${metric}`).toContain(metric);
    }
    const latency = alerts.find((a) => a.alert === 'HopperToolLatencyP99High')!;
    expect(latency.expr).toMatch(/histogram_quantile\(0\.99,.*\[5m\].*> 0\.1/s);
  });

  it('has a dashboard whose every panel reads exported metrics', async () => {
    const dashboard = JSON.parse(await readFile(new URL('grafana/hopper-dashboard.json', root), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const series = await exportedSeries();
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(8);
    for (const panel of dashboard.panels) {
      for (const { expr } of panel.targets) {
        expect(balanced(expr), panel.title).toBe(true);
        for (const metric of referencedMetrics(expr))
          expect(series, `${panel.title} reads ${metric}`).toContain(metric);
      }
    }
  });
});
