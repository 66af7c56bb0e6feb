import { createHash } from 'node:crypto';

/**
 * The canonical text of a tool's arguments: keys sorted at every depth, so `{a, b}` and `{b, a}`
 * are one cache entry. Inputs arrive parsed by their zod schema, so defaults are already applied
 * (`{query}` and `{query, topK: 5}` are the same search).
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

export function hashOf(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  }
  return value;
}
