import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createKeys, jobCatalog, jobKinds } from '@hopper/contracts';
import { configProblems, LIBRARY_VARIABLES, readsVariable, type App } from './support/env-contract.ts';
import { podSpecOf, renderKustomization, splitImage, type K8sObject } from './support/kustomize.ts';
import { describeObject, exists, read, repo, validateObject } from './support/manifests.ts';
import { TestStack } from '../support/stack.ts';

const overlays = ['dev', 'prod'] as const;
const rendered = Object.fromEntries(
  overlays.map((overlay) => [overlay, renderKustomization(repo(`infra/k8s/overlays/${overlay}`))]),
) as Record<(typeof overlays)[number], K8sObject[]>;

/** Secrets an operator creates in production (documented in the prod kustomization), never in git. */
const EXTERNAL_SECRETS: Record<string, string[]> = {
  'hopper-secrets': [
    'REDIS_URL',
    'HOPPER_API_KEYS',
    'HOPPER_EMBEDDINGS_API_KEY',
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'HOPPER_OAUTH_CLIENT_ID',
    'HOPPER_OAUTH_CLIENT_SECRET',
  ],
  'hopper-keda-redis': ['address', 'password', 'tls'],
};
/** Stand-ins for the values of external secrets, to check that the pods' configuration parses. */
const EXTERNAL_VALUES: Record<string, string> = {
  REDIS_URL: 'rediss://redis.example:6380',
  HOPPER_API_KEYS: 'acme:an-example-key-of-enough-length',
};

interface Container {
  name: string;
  image: string;
  ports?: { name?: string; containerPort: number }[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
  }[];
  envFrom?: { configMapRef?: { name: string } }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
}
interface Probe {
  httpGet?: { path: string; port: number | string };
}

const find = (objects: K8sObject[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
};
const containerOf = (objects: K8sObject[], deployment: string) =>
  podSpecOf(find(objects, 'Deployment', deployment))?.containers?.[0] as unknown as Container;
const byName = (objects: K8sObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);
const matches = (selector: Record<string, string>, labels: Record<string, string> | undefined) =>
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** The environment a container starts with: its ConfigMaps, its own entries, secret values. */
function environment(objects: K8sObject[], container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const name = source.configMapRef?.name;
    if (!name) throw new Error(`${container.name}: only configMapRef is used in envFrom`);
    Object.assign(env, find(objects, 'ConfigMap', name).data as Record<string, string>);
  }
  for (const entry of container.env ?? []) {
    if (entry.value !== undefined) {
      env[entry.name] = entry.value;
      continue;
    }
    const ref = entry.valueFrom?.secretKeyRef;
    if (!ref) throw new Error(`${container.name}: ${entry.name} has neither value nor secretKeyRef`);
    const secret = byName(objects, 'Secret', ref.name);
    const data = secret?.data as Record<string, string> | undefined;
    const value = data?.[ref.key];
    const external = EXTERNAL_VALUES[ref.key];
    if (value !== undefined) env[entry.name] = Buffer.from(value, 'base64').toString();
    else if (external !== undefined) env[entry.name] = external;
  }
  return env;
}

const apps: { app: App; deployment: string }[] = [
  { app: 'gateway', deployment: 'hopper-gateway' },
  { app: 'worker', deployment: 'hopper-worker' },
];

describe.each(overlays)('infra/k8s overlay %s', (overlay) => {
  const objects = rendered[overlay];

  it('renders every object valid against the Kubernetes and KEDA schemas, with no unknown field', () => {
    const problems = objects.flatMap((o) => validateObject(o).map((p) => `${describeObject(o)}: ${p}`));
    expect(problems).toEqual([]);
    expect(new Set(objects.map((o) => `${o.kind}/${o.metadata.name}`)).size).toBe(objects.length);
  });

  it('has everything a deployment needs', () => {
    const kinds = objects.map(describeObject);
    for (const needed of [
      'Namespace/',
      'Deployment/hopper-gateway',
      'Service/hopper-gateway',
      'HorizontalPodAutoscaler/hopper-gateway',
      'PodDisruptionBudget/hopper-gateway',
      'Deployment/hopper-worker',
      'ScaledObject/hopper-worker',
      'TriggerAuthentication/hopper-keda-redis',
      'PodDisruptionBudget/hopper-worker',
      'NetworkPolicy/hopper-default-deny',
      'ConfigMap/hopper-config-',
    ]) {
      expect(
        kinds.some((k) => k.startsWith(needed)),
        needed,
      ).toBe(true);
    }
    const namespace = objects.find((o) => o.kind === 'Namespace')?.metadata.name;
    for (const o of objects.filter((o) => o.kind !== 'Namespace'))
      expect(o.metadata.namespace).toBe(namespace);
  });

  it('gives every container resource requests and limits, and runs it as non-root on a read-only root', () => {
    for (const o of objects) {
      const pod = podSpecOf(o) as { securityContext?: { runAsNonRoot?: boolean }; containers: Container[] };
      if (!pod) continue;
      expect(pod.securityContext?.runAsNonRoot, describeObject(o)).toBe(true);
      for (const c of pod.containers) {
        expect(
          c.resources?.requests?.cpu && c.resources.requests.memory,
          `${describeObject(o)} requests`,
        ).toBeTruthy();
        expect(c.resources?.limits?.memory, `${describeObject(o)} memory limit`).toBeTruthy();
        expect(c.securityContext?.allowPrivilegeEscalation, describeObject(o)).toBe(false);
      }
    }
    for (const { deployment } of apps) {
      expect(containerOf(objects, deployment).securityContext?.readOnlyRootFilesystem).toBe(true);
    }
  });

  it.each(apps)(
    'passes the $app only variables its configuration reads, and a configuration it accepts',
    ({ app, deployment }) => {
      const container = containerOf(objects, deployment);
      const env = environment(objects, container);
      const names = [
        ...(container.env ?? []).map((e) => e.name),
        ...Object.keys(env).filter((n) => !(container.env ?? []).some((e) => e.name === n)),
      ];
      const unread = names.filter((name) => !LIBRARY_VARIABLES.has(name) && !readsVariable(app, name));
      expect(unread, `variables ${app} does not read`).toEqual([]);

      // The gateway listens on its pod address, which it accepts only with API keys configured.
      expect(configProblems(app, env)).toEqual([]);
      if (app === 'gateway') expect(env.HOPPER_API_KEYS).toBeTruthy();
    },
  );

  it('references only objects that exist (or the documented external secrets)', () => {
    for (const o of objects) {
      const pod = podSpecOf(o) as { containers: Container[]; serviceAccountName?: string } | undefined;
      if (!pod) continue;
      if (pod.serviceAccountName) find(objects, 'ServiceAccount', pod.serviceAccountName);
      for (const c of pod.containers) {
        for (const source of c.envFrom ?? []) find(objects, 'ConfigMap', source.configMapRef?.name ?? '');
        for (const entry of c.env ?? []) {
          const ref = entry.valueFrom?.secretKeyRef;
          if (!ref) continue;
          const secret = byName(objects, 'Secret', ref.name);
          if (secret) {
            if (!ref.optional)
              expect(Object.keys(secret.data as object), `${ref.name}.${ref.key}`).toContain(ref.key);
          } else {
            expect(overlay, `secret ${ref.name} must be generated in dev`).toBe('prod');
            expect(EXTERNAL_SECRETS[ref.name], ref.name).toContain(ref.key);
          }
        }
      }
    }
    const auth = find(objects, 'TriggerAuthentication', 'hopper-keda-redis').spec as {
      secretTargetRef: { name: string; key: string }[];
    };
    for (const ref of auth.secretTargetRef) {
      const secret = byName(objects, 'Secret', ref.name);
      if (secret) expect(Object.keys(secret.data as object)).toContain(ref.key);
      else expect(EXTERNAL_SECRETS[ref.name]).toContain(ref.key);
    }
    if (overlay === 'prod') expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);

    const hpa = find(objects, 'HorizontalPodAutoscaler', 'hopper-gateway').spec as {
      scaleTargetRef: { name: string };
    };
    find(objects, 'Deployment', hpa.scaleTargetRef.name);
    const scaled = find(objects, 'ScaledObject', 'hopper-worker').spec as {
      scaleTargetRef: { name: string };
    };
    find(objects, 'Deployment', scaled.scaleTargetRef.name);
  });

  it('selects the pods it means to: Service, PDBs and network policies', () => {
    const podsOf = (name: string) =>
      (
        find(objects, 'Deployment', name).spec as {
          template: { metadata: { labels: Record<string, string> } };
        }
      ).template.metadata.labels;
    const service = find(objects, 'Service', 'hopper-gateway').spec as {
      selector: Record<string, string>;
      sessionAffinity: string;
      ports: { targetPort: string }[];
    };
    expect(matches(service.selector, podsOf('hopper-gateway'))).toBe(true);
    expect(matches(service.selector, podsOf('hopper-worker'))).toBe(false);
    expect(service.sessionAffinity).toBe('None');
    const gatewayPorts = containerOf(objects, 'hopper-gateway').ports?.map((p) => p.name);
    for (const port of service.ports) expect(gatewayPorts).toContain(port.targetPort);

    for (const [pdb, deployment] of [
      ['hopper-gateway', 'hopper-gateway'],
      ['hopper-worker', 'hopper-worker'],
    ] as const) {
      const spec = find(objects, 'PodDisruptionBudget', pdb).spec as {
        selector: { matchLabels: Record<string, string> };
      };
      expect(matches(spec.selector.matchLabels, podsOf(deployment)), pdb).toBe(true);
    }

    const allPods = objects.flatMap((o) => {
      const labels = (o.spec as { template?: { metadata?: { labels?: Record<string, string> } } } | undefined)
        ?.template?.metadata?.labels;
      return podSpecOf(o) && labels ? [labels] : [];
    });
    for (const policy of objects.filter((o) => o.kind === 'NetworkPolicy')) {
      const selector = (
        policy.spec as {
          podSelector: {
            matchLabels?: Record<string, string>;
            matchExpressions?: { key: string; values: string[] }[];
          };
        }
      ).podSelector;
      const selects = (labels: Record<string, string>) =>
        matches(selector.matchLabels ?? {}, labels) &&
        (selector.matchExpressions ?? []).every((e) => e.values.includes(labels[e.key] ?? ''));
      expect(allPods.some(selects), `${policy.metadata.name} selects no pod`).toBe(true);
    }
  });

  it('serves probes, Service and Prometheus on the ports the containers listen on', () => {
    const gateway = containerOf(objects, 'hopper-gateway');
    const gatewayEnv = environment(objects, gateway);
    const http = gateway.ports?.find((p) => p.name === 'http');
    expect(http?.containerPort).toBe(Number(gatewayEnv.HOPPER_PORT));
    for (const probe of [gateway.readinessProbe, gateway.livenessProbe, gateway.startupProbe]) {
      expect(probe?.httpGet?.port).toBe('http');
    }
    expect(gateway.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(gateway.livenessProbe?.httpGet?.path).toBe('/healthz');

    const worker = containerOf(objects, 'hopper-worker');
    const workerEnv = environment(objects, worker);
    const metrics = worker.ports?.find((p) => p.name === 'metrics');
    expect(metrics?.containerPort).toBe(Number(workerEnv.HOPPER_WORKER_METRICS_PORT));
    expect(workerEnv.HOPPER_WORKER_METRICS_HOST).toBe('0.0.0.0');
    expect(worker.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'metrics' });

    for (const [deployment, port] of [
      ['hopper-gateway', http?.containerPort],
      ['hopper-worker', metrics?.containerPort],
    ] as const) {
      const annotations = (
        find(objects, 'Deployment', deployment).spec as {
          template: { metadata: { annotations: Record<string, string> } };
        }
      ).template.metadata.annotations;
      expect(annotations['prometheus.io/port']).toBe(String(port));
    }
  });

  it('gives pods enough time to drain before they are killed', () => {
    const worker = find(objects, 'Deployment', 'hopper-worker');
    const workerEnv = environment(objects, containerOf(objects, 'hopper-worker'));
    const drainMs = Number(workerEnv.HOPPER_WORKER_DRAIN_MS ?? 25_000);
    const workerGrace = (podSpecOf(worker) as { terminationGracePeriodSeconds: number })
      .terminationGracePeriodSeconds;
    expect(workerGrace).toBeGreaterThanOrEqual(drainMs / 1000 + 10);

    // The gateway's drain budget is a constant in its main(): read it from the source.
    const drain = /const DRAIN_MS = ([\d_]+);/.exec(read('apps/gateway/src/main.ts'));
    expect(drain, 'DRAIN_MS in apps/gateway/src/main.ts').not.toBeNull();
    const gatewayDrainS = Number(drain?.[1]?.replace(/_/g, '')) / 1000;
    const gateway = containerOf(objects, 'hopper-gateway');
    const preStop = gateway.lifecycle?.preStop?.exec?.command ?? [];
    const preStopS = preStop[0] === 'sleep' ? Number(preStop[1]) : 0;
    const gatewayGrace = (
      podSpecOf(find(objects, 'Deployment', 'hopper-gateway')) as {
        terminationGracePeriodSeconds: number;
      }
    ).terminationGracePeriodSeconds;
    expect(gatewayGrace).toBeGreaterThanOrEqual(preStopS + gatewayDrainS + 5);
  });

  it('scales workers on waiting, prioritized and active jobs of every queue the worker consumes', () => {
    const config = objects.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('hopper-config-'),
    );
    const prefix = (config?.data as Record<string, string>).HOPPER_REDIS_PREFIX ?? 'hopper';
    const { bullPrefix } = createKeys(prefix);
    const spec = find(objects, 'ScaledObject', 'hopper-worker').spec as {
      triggers: { type: string; name: string; metadata: { listName: string } }[];
      advanced: { scalingModifiers: { formula: string } };
    };
    const expected = jobKinds.flatMap((kind) =>
      ['wait', 'prioritized', 'active'].map((list) => `${bullPrefix}:${jobCatalog[kind].queue}:${list}`),
    );
    expect(spec.triggers.map((t) => t.metadata.listName).sort()).toEqual(expected.sort());
    expect(spec.triggers.every((t) => t.type === 'redis')).toBe(true);
    const terms = spec.advanced.scalingModifiers.formula.split('+').map((t) => t.trim());
    expect(terms.sort()).toEqual(spec.triggers.map((t) => t.name).sort());

    if (overlay === 'dev') {
      const secret = find(objects, 'Secret', 'hopper-keda-redis');
      const address = Buffer.from((secret.data as Record<string, string>).address ?? '', 'base64').toString();
      // KEDA's operator runs in its own namespace: the address names this one.
      expect(address).toBe(
        `hopper-redis.${objects.find((o) => o.kind === 'Namespace')?.metadata.name}.svc.cluster.local:6379`,
      );
    }
  });

  it('uses Hopper images built from infra/docker and pinned third-party images', () => {
    const images = objects.flatMap((o) => {
      const pod = podSpecOf(o) as { containers: Container[]; initContainers?: Container[] } | undefined;
      return pod ? [...pod.containers, ...(pod.initContainers ?? [])].map((c) => c.image) : [];
    });
    for (const image of images) {
      const { name, tag, digest } = splitImage(image);
      const base = name.split('/').pop() ?? name;
      if (base.startsWith('hopper-')) {
        expect(exists(`infra/docker/${base.slice('hopper-'.length)}.Dockerfile`), image).toBe(true);
        expect(tag ?? digest, `${image} has a tag`).toBeTruthy();
      } else {
        expect(tag && tag !== 'latest' && /\d/.test(tag), `${image} is pinned`).toBeTruthy();
      }
    }
  });
});

describe('probes against the running processes', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await TestStack.start({
      redisUrl: inject('redisUrl'),
      env: { HOPPER_WORKER_METRICS_PORT: '0' },
    });
  });
  afterAll(() => stack?.stop());

  it('the gateway and the worker answer 200 on every probe path the manifests use', async () => {
    const probes = (deployment: string) => {
      const c = containerOf(rendered.prod, deployment);
      return [c.startupProbe, c.livenessProbe, c.readinessProbe].flatMap((p) =>
        p?.httpGet ? [p.httpGet.path] : [],
      );
    };
    const gatewayPaths = probes('hopper-gateway');
    expect(gatewayPaths.length).toBeGreaterThan(0);
    for (const path of gatewayPaths) expect((await fetch(new URL(path, stack.url))).status, path).toBe(200);

    const metricsLine = stack.workers[0]?.lines.find((l) => l.includes('worker metrics at /metrics'));
    const { port } = JSON.parse(metricsLine ?? '{}') as { port?: number };
    expect(port).toBeGreaterThan(0);
    const workerPaths = probes('hopper-worker');
    expect(workerPaths.length).toBeGreaterThan(0);
    for (const path of workerPaths)
      expect((await fetch(`http://127.0.0.1:${port}${path}`)).status, path).toBe(200);
  });
});

describe('infra/k8s rendering', () => {
  it("fails with kubectl's own message on a kustomization kubectl refuses", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hopper-kustomize-'));
    await writeFile(join(dir, 'kustomization.yaml'), 'resources:\n  - missing.yaml\n');
    expect(() => renderKustomization(dir)).toThrow(/kustomize .* failed: .*missing\.yaml/s);
  });
});
