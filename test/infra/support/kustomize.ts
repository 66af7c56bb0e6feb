import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

/** A rendered Kubernetes object, as far as the infra tests read it. */
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

/**
 * The kubectl that renders the manifests: `HOPPER_KUBECTL` when set, else Debian's
 * `/usr/bin/kubectl`, else the first on PATH. `.ci/run` makes sure one is there (kustomize 5+).
 */
export const kubectl =
  process.env.HOPPER_KUBECTL || (existsSync('/usr/bin/kubectl') ? '/usr/bin/kubectl' : 'kubectl');

/**
 * Renders the kustomization in `dir` with `kubectl kustomize`, the renderer `kubectl apply -k`
 * uses, so what the tests check is what a cluster gets. Throws with kubectl's own message when it
 * is missing or refuses the kustomization.
 */
export function renderKustomization(dir: string): K8sObject[] {
  const out = spawnSync(kubectl, ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (out.error) {
    throw new Error(
      `cannot run ${kubectl} (${out.error.message}): the infra tests render infra/k8s with ` +
        '`kubectl kustomize`; install kubectl (kustomize 5+) or set HOPPER_KUBECTL to one',
    );
  }
  if (out.status !== 0) throw new Error(`${kubectl} kustomize ${dir} failed: ${out.stderr.trim()}`);
  return parseAllDocuments(out.stdout)
    .map((document) => document.toJS() as K8sObject | null)
    .filter((object): object is K8sObject => object !== null);
}

const POD_TEMPLATE_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);

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
