import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as k8s from 'kubernetes-models';
import * as keda from '@kubernetes-models/keda';
import type { K8sObject } from './kustomize.ts';

/** The repository root, for reading infra files from tests. */
export const repo = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));

export const read = (path: string) => readFileSync(repo(path), 'utf8');

export const exists = (path: string) => existsSync(repo(path));

interface Model {
  new (data: unknown): { validate(): void };
}

/** `networking.k8s.io/v1` → `networkingK8sIo`, `v1` → the core group. */
function groupKey(group: string): string {
  return group
    .split('.')
    .map((part, i) => (i === 0 ? part : part.charAt(0).toUpperCase() + part.slice(1)))
    .join('');
}

/** The model class for an object's apiVersion and kind, from the upstream schemas. */
export function modelOf(object: K8sObject): Model | undefined {
  const [group, version] = object.apiVersion.includes('/')
    ? (object.apiVersion.split('/') as [string, string])
    : ['', object.apiVersion];
  const root = (group.endsWith('keda.sh') ? keda : k8s) as unknown as Record<string, Record<string, unknown>>;
  const versions = group === '' ? { [version]: root[version] } : root[groupKey(group)];
  return (versions?.[version] as Record<string, Model> | undefined)?.[object.kind];
}

interface ValidationError {
  instancePath: string;
  message?: string;
}

function schemaErrors(model: Model, data: unknown): ValidationError[] {
  try {
    new model(data).validate();
    return [];
  } catch (error) {
    const errors = (error as { errors?: ValidationError[] }).errors;
    return errors ?? [{ instancePath: '', message: String(error) }];
  }
}

/**
 * Problems of an object against the Kubernetes (or KEDA) JSON schema: schema errors, and fields the
 * schema does not know. The upstream schemas allow unknown fields (the API server drops them, or
 * refuses them with strict field validation), so a typo like `terminationGracePeriodSecond` would
 * pass; each field is replaced in turn by a value of no valid type, and a field whose replacement
 * the schema does not notice is one it does not define.
 */
export function validateObject(object: K8sObject): string[] {
  const model = modelOf(object);
  if (!model) return [`no schema for ${object.apiVersion} ${object.kind}`];
  const problems = schemaErrors(model, object).map((e) =>
    `${e.instancePath || '/'} ${e.message ?? ''}`.trim(),
  );
  const data = structuredClone(object) as unknown;
  const walk = (node: unknown, path: string) => {
    if (node === null || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const at = `${path}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      const saved = record[key];
      record[key] = Symbol('probe');
      const noticed = schemaErrors(model, data).some(
        (e) => e.instancePath === at || e.instancePath.startsWith(`${at}/`),
      );
      record[key] = saved;
      if (noticed) walk(saved, at);
      else problems.push(`${at} is not a field of ${object.kind}`);
    }
  };
  walk(data, '');
  return problems;
}

export const describeObject = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;
