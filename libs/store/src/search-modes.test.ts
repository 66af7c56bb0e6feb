import { Index, connect } from '@lancedb/lancedb';
import { Field, FixedSizeList, Float32, Int32, List, Schema, Utf8 } from 'apache-arrow';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from './index.ts';
import type { ChunkInput, StoreWriter as Store } from './index.ts';
import { TEST_MODEL, testDocument } from './test-documents.ts';
import { tempStores } from './test-stores.ts';

const DIM = 4;

/** A unit vector along `axis`. */
function axis(i: number): Float32Array {
  const v = new Float32Array(DIM);
  v[i] = 1;
  return v;
}

function chunk(text: string, vector: Float32Array, extra: Partial<ChunkInput> = {}): ChunkInput {
  return { text, headingPath: [], start: 0, end: text.length, vector, ...extra };
}

const stores = tempStores('search');
beforeEach(stores.setUp);
afterEach(stores.tearDown);
const { open } = stores;

/**
 * Three documents whose words and vectors disagree on purpose: "lexical" shares the query's words
 * but points away from the query vector, "semantic" points at it without sharing a word, and
 * "both" is close on both counts.
 */
async function seed(store: Store): Promise<void> {
  await store.replaceDocument(testDocument('lexical', { lang: 'en' }), [
    chunk('The keeper trims the lamp wick at dusk.', axis(3), {
      searchText: 'Lighthouse\nThe keeper trims the lamp wick at dusk.',
    }),
  ]);
  await store.replaceDocument(testDocument('semantic', { lang: 'de' }), [
    chunk('Der Wärter putzt die Linse.', axis(0)),
  ]);
  await store.replaceDocument(testDocument('both', { lang: 'en' }), [
    chunk('Trimming the wick keeps the lamp bright.', normalized([0.8, 0, 0, 0.6]), { page: 3 }),
  ]);
}

function normalized(values: number[]): Float32Array {
  const norm = Math.hypot(...values);
  return Float32Array.from(values, (x) => x / norm);
}

describe('search modes', () => {
  it('ranks by words in text mode, by vectors in vector mode, and by both in hybrid mode', async () => {
    const store = await open();
    await seed(store);
    const query = { text: 'trim the wick', vector: axis(0), model: TEST_MODEL, topK: 3 };

    const text = await store.search('acme', { ...query, mode: 'text' });
    expect(text.map((h) => h.documentId).sort()).toEqual(['both', 'lexical']);
    expect(text.every((h) => h.matched.join() === 'text' && h.scores.text === h.score)).toBe(true);

    const vector = await store.search('acme', { ...query, mode: 'vector' });
    expect(vector.map((h) => h.documentId)).toEqual(['semantic', 'both', 'lexical']);

    const hybrid = await store.search('acme', query);
    expect(hybrid[0]?.documentId).toBe('both');
    expect(hybrid[0]?.matched.sort()).toEqual(['text', 'vector']);
    expect(hybrid[0]?.scores).toEqual({
      text: expect.any(Number) as number,
      vector: expect.closeTo(0.8, 5) as number,
    });
    expect(hybrid[0]?.page).toBe(3);
    for (const hit of hybrid) expect(hit.score).toBeGreaterThanOrEqual(0);
    expect(hybrid.find((h) => h.documentId === 'semantic')?.matched).toEqual(['vector']);
  });

  it('indexes the search text (with its context) for full-text search, and stems words', async () => {
    const store = await open();
    await seed(store);
    // "lighthouses" is only in the lexical chunk's search text (its title line), as "Lighthouse".
    const hits = await store.search('acme', { mode: 'text', text: 'lighthouses', topK: 5 });
    expect(hits.map((h) => h.documentId)).toEqual(['lexical']);
    expect(hits[0]?.text).toBe('The keeper trims the lamp wick at dusk.');
  });

  it('applies metadata filters inside both queries, before topK', async () => {
    const store = await open();
    await seed(store);
    for (const mode of ['text', 'vector', 'hybrid'] as const) {
      const hits = await store.search('acme', {
        mode,
        text: 'lamp wick',
        vector: axis(3),
        model: TEST_MODEL,
        topK: 1,
        filter: { lang: 'de' },
      });
      // Only "semantic" is German; it shares no word with the query, so text mode finds nothing.
      expect(
        hits.map((h) => h.documentId),
        mode,
      ).toEqual(mode === 'text' ? [] : ['semantic']);
    }
  });

  it('refuses a query without what its mode needs', async () => {
    const store = await open();
    await seed(store);
    const refusals = [
      store.search('acme', { mode: 'text', topK: 1 }),
      store.search('acme', { mode: 'hybrid', text: 'x', topK: 1 }),
      store.search('acme', { mode: 'vector', text: 'x', topK: 1 }),
      store.search('acme', { mode: 'text', text: '   ', topK: 1 }),
    ];
    for (const refusal of refusals) {
      const error: unknown = await refusal.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).code).toBe('invalid_input');
    }
  });

  it('answers odd query text with plain word matching', async () => {
    const store = await open();
    await seed(store);
    for (const text of ['"wick', 'wick AND (lamp', 'wick:* ~2 ^3', 'the and of']) {
      await expect(store.search('acme', { mode: 'text', text, topK: 3 })).resolves.toBeDefined();
    }
  });

  it('keeps finding new and replaced chunks through compaction', async () => {
    const store = await open({ maxUnindexedRows: 2 });
    const reader = await open();
    for (let i = 0; i < 5; i++) {
      await store.replaceDocument(testDocument(`d${i}`), [
        chunk(`note number ${i} about harbours`, axis(i % DIM)),
      ]);
    }
    await store.replaceDocument(testDocument('d0'), [chunk('note rewritten about canals', axis(0))]);
    await store.deleteDocument('acme', 'docs', 'd1');
    const harbours = await reader.search('acme', { mode: 'text', text: 'harbour', topK: 10 });
    expect(harbours.map((h) => h.documentId).sort()).toEqual(['d2', 'd3', 'd4']);
    const canals = await reader.search('acme', { mode: 'text', text: 'canal', topK: 10 });
    expect(canals.map((h) => h.chunkId)).toEqual(['d0:2:0']);
  });
});

describe('a store large enough for a vector index', () => {
  it('builds the index at compaction, and finds chunks written before and after it', async () => {
    const store = await open({ maxUnindexedRows: 50, vectorIndexMinRows: 200 });
    const reader = await open();
    // 30 documents of 10 chunks, each chunk pointing somewhere between two axes.
    const direction = (d: number, c: number) => normalized([d + 1, c + 1, (d * c) % 7, 1]);
    for (let d = 0; d < 30; d++) {
      await store.replaceDocument(
        testDocument(`d${d}`),
        Array.from({ length: 10 }, (_, c) => chunk(`document ${d} chunk ${c}`, direction(d, c))),
      );
    }
    await store.maintain();
    const indices = await (await (await connect(stores.dir)).openTable('chunks')).listIndices();
    expect(indices.map((index) => index.indexType)).toContain('IvfFlat');

    const nearest = await reader.search('acme', {
      mode: 'vector',
      vector: direction(17, 4),
      model: TEST_MODEL,
      topK: 1,
    });
    expect(nearest[0]?.chunkId).toBe('d17:1:4');
    // Rows written after the build are searched too (folded in, or scanned until then).
    await store.replaceDocument(testDocument('late'), [chunk('written after the index', axis(2))]);
    const late = await reader.search('acme', { mode: 'vector', vector: axis(2), model: TEST_MODEL, topK: 1 });
    expect(late[0]?.documentId).toBe('late');
  });
});

describe('a store written before full-text search', () => {
  it('is migrated by its writer: columns added, index built, old chunks found by text', async () => {
    // The chunks table as the first release wrote it: no page, no search_text, no index.
    const db = await connect(stores.dir);
    const text = (name: string): Field => new Field(name, new Utf8(), false);
    const schema = new Schema([
      text('tenant'),
      text('collection'),
      text('document_id'),
      text('chunk_id'),
      new Field('version', new Int32(), false),
      new Field('chunk_index', new Int32(), false),
      text('text'),
      new Field('heading_path', new List(new Field('item', new Utf8(), true)), false),
      new Field('start_offset', new Int32(), false),
      new Field('end_offset', new Int32(), false),
      text('model'),
      text('metadata'),
      new Field('meta_kv', new List(new Field('item', new Utf8(), true)), false),
      new Field('vector', new FixedSizeList(DIM, new Field('item', new Float32(), true)), false),
    ]);
    const table = await db.createEmptyTable('chunks', schema);
    await table.add([
      {
        tenant: 'acme',
        collection: 'docs',
        document_id: 'old',
        chunk_id: 'old:1:0',
        version: 1,
        chunk_index: 0,
        text: 'an old note about windmills',
        heading_path: [],
        start_offset: 0,
        end_offset: 27,
        model: TEST_MODEL,
        metadata: '{}',
        meta_kv: [],
        vector: [1, 0, 0, 0],
      },
    ]);
    table.close();
    db.close();

    const reader = await open();
    const notReady: unknown = await reader
      .search('acme', { mode: 'text', text: 'windmill', topK: 1 })
      .catch((e: unknown) => e);
    expect((notReady as StoreError).code).toBe('not_ready');
    // Hybrid still answers, from the vector side alone.
    const vectorOnly = await reader.search('acme', {
      text: 'windmill',
      vector: axis(0),
      model: TEST_MODEL,
      topK: 1,
    });
    expect(vectorOnly.map((h) => [h.documentId, h.matched])).toEqual([['old', ['vector']]]);

    const writer = await open();
    await writer.replaceDocument(testDocument('new'), [
      chunk('a new note about watermills', axis(1), { page: 2 }),
    ]);
    const hits = await reader.search('acme', { mode: 'text', text: 'windmill', topK: 5 });
    expect(hits.map((h) => [h.documentId, h.page])).toEqual([['old', undefined]]);
    const fresh = await reader.search('acme', { mode: 'text', text: 'watermills', topK: 5 });
    expect(fresh.map((h) => [h.documentId, h.page])).toEqual([['new', 2]]);
    // The index was built by the writer, once.
    const check = await connect(stores.dir);
    const indices = await (await check.openTable('chunks')).listIndices();
    expect(indices.filter((i) => i.indexType === 'FTS')).toHaveLength(1);
    check.close();
    expect(Index).toBeDefined();
  });
});
