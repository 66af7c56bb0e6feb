import { StoreError } from './store-error.ts';
import { sqlString } from './sql.ts';
import type { Metadata, MetadataFilter, MetadataValue } from './types.ts';

/** Metadata keys the store accepts on write and in filters. */
export const METADATA_KEY_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

// Bounds on one filter so a single request cannot build an arbitrarily large where-clause.
const MAX_FILTER_KEYS = 32;
const MAX_FILTER_VALUES = 256;

function isMetadataValue(value: unknown): value is MetadataValue {
  return (
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

/**
 * The `meta_kv` entry for one pair: `key=<JSON value>`, e.g. `lang="en"`, `year=2020`, `draft=false`.
 * JSON keeps types apart (the string "2020" never equals the number 2020) and makes the entry
 * unambiguous even when a string value contains `=`.
 */
export function metadataEntry(key: string, value: MetadataValue): string {
  return `${key}=${JSON.stringify(value)}`;
}

/** Checks metadata before it is stored; a key that could never be filtered on is refused. */
export function validateMetadata(metadata: Metadata): void {
  for (const [key, value] of Object.entries(metadata)) {
    if (!METADATA_KEY_PATTERN.test(key)) {
      throw new StoreError('invalid_input', `Metadata key "${key}" must match ${METADATA_KEY_PATTERN}`);
    }
    if (!isMetadataValue(value)) {
      throw new StoreError(
        'invalid_input',
        `Metadata "${key}" must be a string, a finite number or a boolean`,
      );
    }
  }
}

/** The `meta_kv` column value for a document's metadata. */
export function metadataEntries(metadata: Metadata): string[] {
  return Object.entries(metadata).map(([key, value]) => metadataEntry(key, value));
}

/** Parses the JSON metadata column back; anything but a flat object of scalars is dropped. */
export function parseMetadata(json: string): Metadata {
  const parsed: unknown = JSON.parse(json);
  const metadata: Metadata = {};
  if (typeof parsed !== 'object' || parsed === null) return metadata;
  for (const [key, value] of Object.entries(parsed)) {
    if (isMetadataValue(value)) metadata[key] = value;
  }
  return metadata;
}

/**
 * Translates a metadata filter into a predicate on `meta_kv` that LanceDB evaluates before the
 * vector search (a prefilter), so `topK` counts only matching chunks. Returns undefined for an
 * empty filter.
 */
export function metadataFilterSql(filter: MetadataFilter): string | undefined {
  const entries = Object.entries(filter);
  if (entries.length > MAX_FILTER_KEYS) {
    throw new StoreError('invalid_filter', `A filter may have at most ${MAX_FILTER_KEYS} keys`);
  }
  const predicates = entries.map(([key, condition]) => {
    if (!METADATA_KEY_PATTERN.test(key)) {
      throw new StoreError('invalid_filter', `Filter key "${key}" must match ${METADATA_KEY_PATTERN}`);
    }
    const values: unknown[] = Array.isArray(condition) ? condition : [condition];
    if (values.length === 0) {
      throw new StoreError('invalid_filter', `Filter "${key}" lists no values`);
    }
    if (values.length > MAX_FILTER_VALUES) {
      throw new StoreError('invalid_filter', `Filter "${key}" may list at most ${MAX_FILTER_VALUES} values`);
    }
    const literals = values.map((value) => {
      if (!isMetadataValue(value)) {
        throw new StoreError(
          'invalid_filter',
          `Filter "${key}" values must be strings, finite numbers or booleans`,
        );
      }
      return sqlString(metadataEntry(key, value));
    });
    return literals.length === 1
      ? `array_has(meta_kv, ${literals[0]})`
      : `array_has_any(meta_kv, make_array(${literals.join(', ')}))`;
  });
  return predicates.length === 0 ? undefined : predicates.map((p) => `(${p})`).join(' AND ');
}
