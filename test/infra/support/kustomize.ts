import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

/**
 * A small, strict implementation of the kustomize features infra/k8s uses, so the manifests render
 * in CI without the kustomize binary (no registry package ships it on its own). Anything outside
 * this subset is refused with an error instead of being ignored, so a manifest cannot quietly rely
 * on a feature this renderer does not apply. Supported, with kustomize's semantics:
 *
 * - `resources`: YAML files (several documents each) and directories holding a kustomization;
 * - `namespace`: set on every namespaced object (cluster-scoped kinds are left alone);
 * - `labels` with `pairs`, `includeSelectors: false` and `includeTemplates`;
 * - `images`: `name` → `newName`, `newTag` or `digest` on containers and init containers;
 * - `configMapGenerator` / `secretGenerator` with `literals`, `behavior` (create, merge,
 *   replace) and `options.disableNameSuffixHash`; generated names get kustomize's content hash
 *   suffix, and references from pod templates (env, envFrom, volumes) follow the new name;
 * - `patches` with a `target` (kind, name) and an inline JSON 6902 patch (add, remove, replace,
 *   test). Strategic merge patches are refused.
 *
 * Transformers run in kustomize's order: patches, namespace, labels, images; hash suffixes are
 * applied once, by the top-level kustomization.
 */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Generated {
  object: K8sObject;
  hashSuffix: boolean;
}

interface Rendered {
  objects: K8sObject[];
  generated: Map<K8sObject, Generated>;
}

const KUSTOMIZATION_KEYS = new Set([
  'apiVersion',
  'kind',
  'resources',
  'namespace',
  'labels',
  'images',
  'configMapGenerator',
  'secretGenerator',
  'patches',
]);

/** Kinds that are not namespaced, among those a Hopper deployment could contain. */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'ClusterTriggerAuthentication',
]);

const POD_TEMPLATE_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);

/** Renders the kustomization in `dir` as `kubectl kustomize dir` would (for the supported subset). */
export function renderKustomization(dir: string): K8sObject[] {
  const rendered = build(resolve(dir));
  applyHashSuffixes(rendered);
  return rendered.objects;
}

function build(dir: string): Rendered {
  const file = join(dir, 'kustomization.yaml');
  const k = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  for (const key of Object.keys(k)) {
    if (!KUSTOMIZATION_KEYS.has(key)) throw new Error(`${file}: '${key}' is not supported by this renderer`);
  }

  const out: Rendered = { objects: [], generated: new Map() };
  for (const entry of (k.resources as string[] | undefined) ?? []) {
    const path = resolve(dir, entry);
    if (statSync(path).isDirectory()) {
      const sub = build(path);
      out.objects.push(...sub.objects);
      for (const [object, info] of sub.generated) out.generated.set(object, info);
    } else {
      out.objects.push(...readObjects(path));
    }
  }

  for (const [key, kind] of [
    ['configMapGenerator', 'ConfigMap'],
    ['secretGenerator', 'Secret'],
  ] as const) {
    for (const spec of (k[key] as GeneratorSpec[] | undefined) ?? []) generate(out, kind, spec, file);
  }

  for (const patch of (k.patches as PatchSpec[] | undefined) ?? []) applyPatch(out.objects, patch, file);

  const namespace = k.namespace as string | undefined;
  if (namespace) {
    for (const object of out.objects) {
      if (!CLUSTER_SCOPED.has(object.kind)) object.metadata.namespace = namespace;
    }
  }

  for (const label of (k.labels as LabelSpec[] | undefined) ?? []) applyLabels(out.objects, label, file);
  for (const image of (k.images as ImageSpec[] | undefined) ?? []) applyImage(out.objects, image);
  return out;
}

function readObjects(path: string): K8sObject[] {
  return parseAllDocuments(readFileSync(path, 'utf8'))
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]?.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((object): object is K8sObject => object !== null)
    .map((object) => {
      if (!object.apiVersion || !object.kind || !object.metadata?.name) {
        throw new Error(`${path}: every object needs apiVersion, kind and metadata.name`);
      }
      return object;
    });
}

interface GeneratorSpec {
  name: string;
  behavior?: 'create' | 'merge' | 'replace';
  literals?: string[];
  options?: { disableNameSuffixHash?: boolean };
  [key: string]: unknown;
}

function generate(out: Rendered, kind: 'ConfigMap' | 'Secret', spec: GeneratorSpec, file: string): void {
  for (const key of Object.keys(spec)) {
    if (!['name', 'behavior', 'literals', 'options'].includes(key)) {
      throw new Error(`${file}: generator field '${key}' is not supported by this renderer`);
    }
  }
  const data: Record<string, string> = {};
  for (const literal of spec.literals ?? []) {
    const eq = literal.indexOf('=');
    if (eq <= 0) throw new Error(`${file}: literal '${literal}' is not KEY=VALUE`);
    data[literal.slice(0, eq)] = literal.slice(eq + 1);
  }
  const encoded =
    kind === 'Secret'
      ? Object.fromEntries(Object.entries(data).map(([key, v]) => [key, Buffer.from(v).toString('base64')]))
      : data;
  const behavior = spec.behavior ?? 'create';
  const existing = [...out.generated.values()].find(
    (g) => g.object.kind === kind && g.object.metadata.name === spec.name,
  );
  if (behavior === 'create') {
    if (existing) throw new Error(`${file}: ${kind} '${spec.name}' is already generated; use behavior merge`);
    const object: K8sObject = {
      apiVersion: 'v1',
      kind,
      metadata: { name: spec.name },
      ...(kind === 'Secret' ? { type: 'Opaque' } : {}),
      data: encoded,
    };
    out.objects.push(object);
    out.generated.set(object, { object, hashSuffix: !spec.options?.disableNameSuffixHash });
    return;
  }
  if (!existing) throw new Error(`${file}: no generated ${kind} '${spec.name}' to ${behavior}`);
  existing.object.data =
    behavior === 'merge' ? { ...(existing.object.data as Record<string, string>), ...encoded } : encoded;
  if (spec.options?.disableNameSuffixHash !== undefined) {
    existing.hashSuffix = !spec.options.disableNameSuffixHash;
  }
}

interface PatchSpec {
  target?: { kind?: string; name?: string };
  patch?: string;
  [key: string]: unknown;
}

interface Operation {
  op: string;
  path: string;
  value?: Json;
}

function applyPatch(objects: K8sObject[], spec: PatchSpec, file: string): void {
  for (const key of Object.keys(spec)) {
    if (key !== 'target' && key !== 'patch')
      throw new Error(`${file}: patch field '${key}' is not supported`);
  }
  const operations = parse(spec.patch ?? '') as unknown;
  if (!Array.isArray(operations)) {
    throw new Error(`${file}: only JSON 6902 patches (a list of operations) are supported`);
  }
  const targets = objects.filter(
    (o) =>
      (!spec.target?.kind || o.kind === spec.target.kind) &&
      (!spec.target?.name || o.metadata.name === spec.target.name),
  );
  if (targets.length === 0)
    throw new Error(`${file}: patch target ${JSON.stringify(spec.target)} matches nothing`);
  for (const target of targets) {
    for (const operation of operations as Operation[])
      applyOperation(target as unknown as Json, operation, file);
  }
}

function applyOperation(document: Json, operation: Operation, file: string): void {
  const tokens = operation.path
    .split('/')
    .slice(1)
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = tokens.pop();
  if (last === undefined) throw new Error(`${file}: patch path '${operation.path}' has no target`);
  let parent: Json = document;
  for (const token of tokens) {
    const next: Json | undefined = Array.isArray(parent)
      ? parent[Number(token)]
      : parent !== null && typeof parent === 'object'
        ? parent[token]
        : undefined;
    if (next === undefined) throw new Error(`${file}: patch path '${operation.path}' does not exist`);
    parent = next;
  }
  if (parent === null || typeof parent !== 'object') {
    throw new Error(`${file}: patch path '${operation.path}' does not exist`);
  }
  const container = parent;
  const exists = Array.isArray(container) ? Number(last) < container.length : last in container;
  switch (operation.op) {
    case 'add':
      if (Array.isArray(container)) {
        container.splice(last === '-' ? container.length : Number(last), 0, operation.value ?? null);
      } else {
        container[last] = operation.value ?? null;
      }
      return;
    case 'replace':
    case 'remove':
    case 'test':
      if (!exists) throw new Error(`${file}: ${operation.op} of missing '${operation.path}'`);
      if (operation.op === 'test') {
        const current = Array.isArray(container) ? container[Number(last)] : container[last];
        if (JSON.stringify(current) !== JSON.stringify(operation.value)) {
          throw new Error(`${file}: test of '${operation.path}' failed`);
        }
      } else if (Array.isArray(container)) {
        if (operation.op === 'remove') container.splice(Number(last), 1);
        else container[Number(last)] = operation.value ?? null;
      } else if (operation.op === 'remove') {
        delete container[last];
      } else {
        container[last] = operation.value ?? null;
      }
      return;
    default:
      throw new Error(`${file}: patch op '${operation.op}' is not supported`);
  }
}

interface LabelSpec {
  pairs: Record<string, string>;
  includeSelectors?: boolean;
  includeTemplates?: boolean;
}

function applyLabels(objects: K8sObject[], spec: LabelSpec, file: string): void {
  if (spec.includeSelectors) throw new Error(`${file}: labels.includeSelectors is not supported`);
  for (const object of objects) {
    object.metadata.labels = { ...object.metadata.labels, ...spec.pairs };
    if (spec.includeTemplates && POD_TEMPLATE_KINDS.has(object.kind)) {
      const template = (object.spec as { template?: { metadata?: { labels?: Record<string, string> } } })
        .template;
      if (template)
        template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, ...spec.pairs } };
    }
  }
}

interface ImageSpec {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}

interface Container {
  name: string;
  image?: string;
  env?: { name: string; valueFrom?: Record<string, { name?: string }> }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
}

interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  volumes?: {
    configMap?: { name: string };
    secret?: { secretName: string };
    projected?: { sources?: { configMap?: { name: string }; secret?: { name: string } }[] };
  }[];
}

/** The pod spec inside a workload, if the object has one. */
export function podSpecOf(object: K8sObject): PodSpec | undefined {
  if (!POD_TEMPLATE_KINDS.has(object.kind)) return undefined;
  return (object.spec as { template?: { spec?: PodSpec } } | undefined)?.template?.spec;
}

function applyImage(objects: K8sObject[], spec: ImageSpec): void {
  for (const object of objects) {
    const pod = podSpecOf(object);
    for (const container of [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])]) {
      if (!container.image) continue;
      const { name, tag, digest } = splitImage(container.image);
      if (name !== spec.name) continue;
      const suffix = spec.digest
        ? `@${spec.digest}`
        : spec.newTag
          ? `:${spec.newTag}`
          : digest
            ? `@${digest}`
            : tag
              ? `:${tag}`
              : '';
      container.image = `${spec.newName ?? name}${suffix}`;
    }
  }
}

/** Splits `registry/name:tag@digest` (a registry port is not a tag). */
export function splitImage(image: string): { name: string; tag?: string; digest?: string } {
  const [withTag = '', digest] = image.split('@', 2);
  const slash = withTag.lastIndexOf('/');
  const colon = withTag.lastIndexOf(':');
  if (colon > slash) {
    return { name: withTag.slice(0, colon), tag: withTag.slice(colon + 1), ...(digest ? { digest } : {}) };
  }
  return { name: withTag, ...(digest ? { digest } : {}) };
}

function applyHashSuffixes(rendered: Rendered): void {
  const renamed = new Map<string, string>(); // `${kind}/${namespace}/${name}` → new name
  for (const { object, hashSuffix } of rendered.generated.values()) {
    if (!hashSuffix) continue;
    const name = `${object.metadata.name}-${contentHash(object)}`;
    renamed.set(`${object.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`, name);
    object.metadata.name = name;
  }
  const rename = (kind: 'ConfigMap' | 'Secret', namespace: string | undefined, name: string) =>
    renamed.get(`${kind}/${namespace ?? ''}/${name}`) ?? name;
  for (const object of rendered.objects) {
    const pod = podSpecOf(object);
    if (!pod) continue;
    const ns = object.metadata.namespace;
    for (const container of [...(pod.containers ?? []), ...(pod.initContainers ?? [])]) {
      for (const env of container.env ?? []) {
        const cm = env.valueFrom?.configMapKeyRef;
        if (cm?.name) cm.name = rename('ConfigMap', ns, cm.name);
        const secret = env.valueFrom?.secretKeyRef;
        if (secret?.name) secret.name = rename('Secret', ns, secret.name);
      }
      for (const source of container.envFrom ?? []) {
        if (source.configMapRef) source.configMapRef.name = rename('ConfigMap', ns, source.configMapRef.name);
        if (source.secretRef) source.secretRef.name = rename('Secret', ns, source.secretRef.name);
      }
    }
    for (const volume of pod.volumes ?? []) {
      if (volume.configMap) volume.configMap.name = rename('ConfigMap', ns, volume.configMap.name);
      if (volume.secret) volume.secret.secretName = rename('Secret', ns, volume.secret.secretName);
      for (const source of volume.projected?.sources ?? []) {
        if (source.configMap) source.configMap.name = rename('ConfigMap', ns, source.configMap.name);
        if (source.secret) source.secret.name = rename('Secret', ns, source.secret.name);
      }
    }
  }
}

/**
 * kustomize's name suffix: SHA-256 of the object's canonical JSON (Go's encoding of a map with
 * sorted keys: data, kind, name, and the type of a Secret), first 10 hex digits with 0 1 3 a e
 * swapped for g h k m t so the suffix never reads as a number or a word. The name is hashed as
 * an empty string: kustomize looks it up with the single path segment "metadata/name", which
 * finds nothing (checked against kustomize 5.7.1).
 */
export function contentHash(object: K8sObject): string {
  const fields: Record<string, unknown> = { data: object.data ?? {}, kind: object.kind, name: '' };
  if (object.kind === 'Secret') fields.type = object.type ?? 'Opaque';
  const hex = createHash('sha256').update(goJson(fields)).digest('hex');
  const swap: Record<string, string> = { '0': 'g', '1': 'h', '3': 'k', a: 'm', e: 't' };
  return [...hex.slice(0, 10)].map((c) => swap[c] ?? c).join('');
}

/** JSON as Go's encoding/json writes it: map keys sorted, HTML characters escaped. */
function goJson(value: unknown): string {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `{${entries.map(([k, v]) => `${goJson(k)}:${goJson(v)}`).join(',')}}`;
  }
  if (Array.isArray(value)) return `[${value.map(goJson).join(',')}]`;
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}
