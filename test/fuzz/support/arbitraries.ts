import fc from 'fast-check';
import { limits, type ToolName } from '@hopper/contracts';

/**
 * Generators of hostile and almost-right input for the fuzz tests. Almost-right matters as much as
 * garbage: a value one past a limit, a valid shape with one wrong field, or a known id in the wrong
 * place reaches code that pure garbage never gets past validation to.
 */

/** Object keys that have broken JavaScript servers: prototype pollution and inherited names. */
export const hostileKeys = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '__defineGetter__',
];

/** Strings that mean something to a parser, a query language, a path or a terminal. */
const nastyStrings = [
  '',
  ' ',
  '\u0000',
  "' OR 1=1 --",
  '"; DROP TABLE chunks; --',
  "metadata.lang = 'en' OR TRUE",
  '`backtick`',
  '../../../etc/passwd',
  '/etc/passwd',
  '%00',
  '%E0%A4%A',
  '${jndi:ldap://x}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '\u202Eevil',
  '\uD800',
  '\uDFFF\uD800',
  'Ω≈ç√∫˜µ≤≥÷',
  '👩‍👩‍👧‍👦🏳️‍🌈',
  'ﷺ',
  '*',
  '?',
  '[',
  '\\',
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '-1',
  '1e400',
  'ing_',
  'emb_',
  'default',
];

/** Numbers at and around the edges: JSON has no NaN or Infinity (they are sent as `null`). */
const edgeNumbers = [
  0,
  -0,
  -1,
  1,
  0.5,
  -0.5,
  1.5,
  49,
  50,
  51,
  100,
  101,
  2 ** 31,
  -(2 ** 31),
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 2,
  -Number.MAX_SAFE_INTEGER,
  1e308,
  -1e308,
  5e-324,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
];

/** Lone surrogates and control characters: valid in JSON text, invalid as UTF-8 once decoded. */
const rawUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) });

export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...nastyStrings),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  rawUnits,
);

/** Strings just past each limit, and one past the request body size. */
export const hugeString: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom(
      limits.maxQueryChars + 1,
      limits.maxEmbedTextChars + 1,
      limits.maxMetadataValueChars + 1,
      100_000,
      limits.maxContentChars + 1,
      limits.maxRequestBodyBytes + 1,
    ),
    fc.constantFrom('x', 'é', '😀', ' '),
  )
  .map(([length, unit]) => unit.repeat(Math.ceil(length / unit.length)));

export const edgeNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(...edgeNumbers),
  fc.integer(),
  fc.double(),
);

export const objectKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...hostileKeys),
  fc.string({ maxLength: 12 }),
);

/** Any JSON value, nested a few levels, with hostile keys and edge numbers. */
export const junk: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    edgeNumber,
    nastyString,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(objectKey, tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** A wrong value for a field: any JSON, a nasty string, an edge number, rarely one past a size limit. */
const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: junk },
  { weight: 3, arbitrary: nastyString },
  { weight: 3, arbitrary: edgeNumber },
  { weight: 1, arbitrary: hugeString },
);

type Args = Record<string, unknown>;

/** One way to spoil valid arguments. */
const mutation: fc.Arbitrary<(args: Args) => Args> = fc.oneof(
  fc.tuple(fc.nat(), wrongValue).map(([i, value]) => (args: Args) => {
    const keys = Object.keys(args);
    if (keys.length === 0) return { ...args, [hostileKeys[i % hostileKeys.length]!]: value };
    return { ...args, [keys[i % keys.length]!]: value };
  }),
  fc.tuple(objectKey, junk).map(
    ([key, value]) =>
      (args: Args) =>
        withOwnKey(args, key, value),
  ),
  fc.nat().map((i) => (args: Args) => {
    const keys = Object.keys(args);
    return Object.fromEntries(
      keys.filter((_, k) => k !== i % Math.max(keys.length, 1)).map((k) => [k, args[k]]),
    );
  }),
);

/** `value` in one case of `n`, otherwise `undefined`. */
export function sometimes<T>(value: fc.Arbitrary<T>, n: number): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: n - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: value });
}

/** Sets a key as an own property, `__proto__` included (plain assignment would set the prototype). */
function withOwnKey(args: Args, key: string, value: unknown): Args {
  const copy = { ...args };
  Object.defineProperty(copy, key, { value, enumerable: true, configurable: true, writable: true });
  return copy;
}

/**
 * Valid arguments, then none, one or two spoilers: about half the cases reach the handler with
 * arguments it must accept, the rest test the refusal of one or two wrong things at a time.
 */
function spoiled(valid: fc.Arbitrary<Args>): fc.Arbitrary<Args> {
  return fc
    .tuple(
      valid,
      fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, fc.array(mutation, { minLength: 1, maxLength: 2 })),
    )
    .map(([args, mutations]) => mutations.reduce((acc, mutate) => mutate(acc), args));
}

const optional = <T extends Record<string, fc.Arbitrary<unknown>>>(fields: T) =>
  fc.record(fields, { requiredKeys: [] });

const validKey = fc.constantFrom('lang', 'team', 'year', 'a.b', 'x-y');
const validValue = fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean());
const metadata = fc.dictionary(validKey, validValue, { maxKeys: 4 });
const filter = fc.dictionary(
  validKey,
  fc.oneof(validValue, fc.array(validValue, { minLength: 1, maxLength: 4 })),
  {
    maxKeys: 3,
  },
);
const collection = fc.constantFrom('default', 'fuzz', 'a-b_c', 'x'.repeat(64));
const pageSize = fc.integer({ min: 1, max: limits.maxPageSize });
const cursor = fc.oneof(
  fc.base64String({ minLength: 4, maxLength: 40 }),
  fc.string({ minLength: 1, maxLength: 40 }),
);
/** A made-up cursor in one listing of five (a real one comes only from a previous page). */
const withCursor = (args: fc.Arbitrary<Args>): fc.Arbitrary<Args> =>
  fc
    .tuple(args, sometimes(cursor, 5))
    .map(([rest, made]) => (made === undefined ? rest : { ...rest, cursor: made }));
const text = fc.lorem({ maxCount: 12 });
const documentIdText = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,40}$/);
const mediaType = fc.constantFrom(
  'text/plain',
  'text/markdown',
  'text/html',
  'application/pdf',
  'application/json',
  'text/csv',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/msword',
  'image/png',
);
/** Exactly one source, as the schema wants; the bytes are random, so many fail to parse. */
const source = fc.oneof(
  text.map((content) => ({ content })),
  fc
    .tuple(fc.uint8Array({ maxLength: 300 }), fc.option(mediaType, { nil: undefined }))
    .map(([bytes, type]) => ({
      contentBase64: Buffer.from(bytes).toString('base64'),
      ...(type ? { mediaType: type } : {}),
    })),
  fc.constantFrom('/etc/passwd', '/tmp/notes.md', '/nonexistent/x.md').map((path) => ({ path })),
);

/**
 * Arguments for each tool. `ids` are real job and document ids (seeded by the test), so some calls
 * reach a handler's real work and not only its validation.
 */
export function toolArgs(
  tool: ToolName,
  ids: { jobIds: string[]; documentIds: string[] },
): fc.Arbitrary<Args> {
  const jobId = fc.oneof(fc.constantFrom(...ids.jobIds), fc.string({ minLength: 1, maxLength: 128 }));
  const documentId = fc.oneof(fc.constantFrom(...ids.documentIds), documentIdText);
  switch (tool) {
    case 'search':
      return spoiled(
        fc
          .tuple(
            fc.oneof(
              fc.constantFrom('lighthouse', 'fog horn', 'wick'),
              fc.string({ minLength: 1, maxLength: 30 }),
            ),
            optional({
              topK: fc.integer({ min: 1, max: limits.maxTopK }),
              collection,
              filter,
              mode: fc.constantFrom('hybrid', 'text', 'vector'),
            }),
          )
          .map(([query, rest]) => ({ query, ...rest })),
      );
    case 'ingest_document':
      return spoiled(
        fc
          .tuple(
            source,
            optional({
              filename: fc.constantFrom('a.md', 'a.pdf', 'a.docx', 'notes.txt'),
              chunking: optional({
                maxChars: fc.integer({ min: limits.minChunkChars, max: limits.maxChunkChars }),
                overlapChars: fc.integer({ min: 0, max: 50 }),
              }),
              documentId,
              title: fc.string({ maxLength: 40 }),
              collection,
              metadata,
            }),
            // A call that waits runs a real job on the worker: keep those a minority.
            fc.constantFrom(false, false, false, true),
          )
          .map(([src, rest, wait]) => ({ ...src, ...rest, wait })),
      );
    case 'ingest_documents':
      return spoiled(
        fc
          .tuple(
            fc.array(
              fc
                .tuple(
                  fc.oneof(
                    source.filter((s) => !('path' in s)),
                    fc.anything(),
                  ),
                  optional({ documentId, title: fc.string({ maxLength: 40 }), metadata }),
                )
                .map(([src, rest]) => (typeof src === 'object' && src !== null ? { ...src, ...rest } : src)),
              { minLength: 1, maxLength: 5 },
            ),
            optional({ collection }),
            fc.constantFrom(false, false, false, true),
          )
          .map(([documents, rest, wait]) => ({ documents, ...rest, wait })),
      );
    case 'embed_texts':
      return spoiled(
        optional({
          texts: fc.array(text, { minLength: 1, maxLength: 40 }),
          model: fc.constant('hopper-hashing-v1-384'),
        }),
      );
    case 'get_job':
    case 'cancel_job':
      return spoiled(jobId.map((id) => ({ jobId: id })));
    case 'list_jobs':
      return spoiled(
        withCursor(
          optional({
            state: fc.constantFrom('queued', 'active', 'completed', 'failed', 'cancelled'),
            limit: pageSize,
          }),
        ),
      );
    case 'list_documents':
      return spoiled(withCursor(optional({ collection, limit: pageSize })));
    case 'list_chunks':
      return spoiled(
        withCursor(
          fc
            .tuple(documentId, optional({ collection, limit: pageSize }))
            .map(([id, rest]) => ({ documentId: id, ...rest })),
        ),
      );
    case 'get_document':
    case 'delete_document':
      return spoiled(
        fc.tuple(documentId, optional({ collection })).map(([id, rest]) => ({ documentId: id, ...rest })),
      );
  }
}
