import * as z from 'zod';
import { limits } from './limits.ts';

/** Collection names are part of cache keys and store filters: a small, safe alphabet. */
export const collectionName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/,
    'collection: 1-64 letters, digits, _ or -, starting with a letter or digit',
  );

export const DEFAULT_COLLECTION = 'default';

/** The exact alphabet of document ids (see documentId). */
const DOCUMENT_ID =
  /^(?![^]*[\u{10000}-\u{10FFFF}])[A-Za-z0-9~\p{L}\p{N}](?:[A-Za-z0-9._:@/~-]|[\p{L}\p{M}\p{N}])*$/u;

/**
 * Document ids: ASCII letters and digits, `. _ : @ / - ~`, and letters, marks and digits of any
 * script in the Basic Multilingual Plane, NFC-normalised (so `café` typed on two systems is one id).
 * The JSON Schema pattern is the portable approximation (any character from U+00A0, no `\p{..}`
 * classes, which Python's `re` and regexes without the `u` flag do not read); the refinement checks
 * exactly. `~` starts the escapes of ids derived from paths (see the gateway's documentIdForPath).
 */
export const documentId = z
  .string()
  .min(1)
  .max(256)
  .regex(
    /^[A-Za-z0-9~\u00A0-\uFFFF][A-Za-z0-9._:@/~\u00A0-\uFFFF-]*$/,
    'documentId: letters, digits and . _ : @ / - ~, starting with a letter, a digit or ~',
  )
  .refine((id) => DOCUMENT_ID.test(id), {
    message:
      'documentId: beyond ASCII only letters, marks and digits of the Basic Multilingual Plane (no spaces, symbols or emoji)',
  })
  .refine((id) => id === id.normalize('NFC'), { message: 'documentId: must be NFC-normalised Unicode' });

export const jobId = z.string().min(1).max(128);

const metadataKey = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'metadata keys: 1-64 letters, digits, _ . or -');
export const metadataValue = z.union(
  [
    z
      .string()
      .max(
        limits.maxMetadataValueChars,
        `metadata values: at most ${limits.maxMetadataValueChars} characters`,
      ),
    z.number().finite(),
    z.boolean(),
  ],
  {
    error:
      'metadata values must be a string, number or boolean: metadata is flat (depth 1), with no objects, arrays or null',
  },
);

const utf8 = new TextEncoder();

/** Flat document metadata: filters run on it inside the store, so no nesting. */
export const metadata = z
  .record(metadataKey, metadataValue)
  .refine((m) => Object.keys(m).length <= limits.maxMetadataKeys, {
    message: `metadata: at most ${limits.maxMetadataKeys} keys`,
  })
  .refine((m) => utf8.encode(JSON.stringify(m)).length <= limits.maxMetadataBytes, {
    message: `metadata: at most ${limits.maxMetadataBytes} bytes as JSON (it is stored with every chunk)`,
  });

/** Equality on a metadata field, or membership when the value is an array. */
export const metadataFilter = z
  .record(metadataKey, z.union([metadataValue, z.array(metadataValue).min(1).max(limits.maxFilterValues)]))
  .refine((f) => Object.keys(f).length <= limits.maxFilterKeys, {
    message: `filter: at most ${limits.maxFilterKeys} keys`,
  });

export const cursor = z.string().min(1).max(512);
export const pageSize = z.number().int().min(1).max(limits.maxPageSize);

export type Metadata = z.infer<typeof metadata>;
export type MetadataFilter = z.infer<typeof metadataFilter>;
