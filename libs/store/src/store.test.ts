import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from '@lancedb/lancedb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StoreError } from './index.ts';
import type { ChunkInput, DocumentInput, SearchHit, StoreWriter as Store } from './index.ts';
import { rejection, tempStores } from './test-stores.ts';

const DIM = 8;
const MODEL = 'test-model';

/** A unit-length vector pointing mostly along `axis`, tilted towards `toward` by `tilt`. */
function vec(axis: number, tilt = 0, toward = (axis + 1) % DIM, dim = DIM): Float32Array {
  const v = new Float32Array(dim);
  v[axis] = 1;
  v[toward] = tilt;
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

function chunks(count: number, axis = 0, label = 'chunk'): ChunkInput[] {
  return Array.from({ length: count }, (_, i) => ({
    text: `${label} ${i}`,
    headingPath: ['Title', `Section ${i}`],
    start: i * 10,
    end: i * 10 + 9,
    vector: vec(axis, i * 0.01),
  }));
}

function doc(overrides: Partial<DocumentInput> = {}): DocumentInput {
  return {
    tenant: 'acme',
    collection: 'docs',
    documentId: 'doc-1',
    title: 'Doc one',
    mediaType: 'text/markdown',
    contentHash: 'hash-1',
    metadata: { lang: 'en', year: 2020, draft: false },
    model: MODEL,
    ...overrides,
  };
}

const stores = tempStores('store');
beforeEach(stores.setUp);
afterEach(stores.tearDown);
const { open } = stores;

/**
 * Chunk rows matching `filter` in both chunk tables (the delta, where writes land, and the main
 * table, where maintenance moves them), tombstones excluded (positions a shorter version no longer
 * uses, which maintenance removes); `{ tombstones: true }` counts every row.
 */
async function chunkRows(filter?: string, { tombstones = false } = {}): Promise<number> {
  const db = await connect(stores.dir);
  try {
    const live = tombstones ? undefined : `tenant <> ''`;
    const where = [filter, live].filter((p) => p !== undefined).map((p) => `(${p})`);
    let rows = 0;
    for (const name of await db.tableNames()) {
      if (name !== 'chunks' && name !== 'chunks_delta') continue;
      const table = await db.openTable(name);
      rows += await table.countRows(where.length > 0 ? where.join(' AND ') : undefined);
      table.close();
    }
    return rows;
  } finally {
    db.close();
  }
}

/** Versions of the delta table, where commits write: one or more per commit, until maintenance removes old ones. */
async function chunkVersions(): Promise<number> {
  const db = await connect(stores.dir);
  const table = await db.openTable('chunks_delta');
  try {
    return (await table.listVersions()).length;
  } finally {
    table.close();
    db.close();
  }
}

describe('an empty store', () => {
  it('answers reads with empty results', async () => {
    const store = await open();
    await store.ping();
    expect(await store.search('acme', { vector: vec(0), model: MODEL, topK: 5 })).toEqual([]);
    expect(await store.getDocument('acme', 'docs', 'doc-1')).toBeUndefined();
    expect(await store.listDocuments('acme', { limit: 10 })).toEqual({ documents: [] });
    expect(await store.deleteDocument('acme', 'docs', 'doc-1')).toBe(false);
  });
});

describe('a store whose tables another process is creating', () => {
  it('answers reads as an empty store while a table has a directory but no version yet', async () => {
    // The moment between a writer making a table's directory and committing its first version:
    // the table is listed but cannot be opened. Readers in other processes hit it on a new store.
    for (const table of ['chunks', 'chunks_delta', 'documents'])
      await mkdir(join(stores.dir, `${table}.lance`));
    const store = await open();
    expect(await store.search('acme', { text: 'notes', vector: vec(0), model: MODEL, topK: 5 })).toEqual([]);
    expect(await store.getDocument('acme', 'docs', 'doc-1')).toBeUndefined();
    expect(await store.listDocuments('acme', { limit: 10 })).toEqual({ documents: [] });
  });
});

describe('replaceDocument and search', () => {
  it('stores a document and finds its chunks with every hit field', async () => {
    const store = await open();
    const record = await store.replaceDocument(doc(), chunks(3));
    expect(record).toMatchObject({ documentId: 'doc-1', version: 1, chunks: 3, model: MODEL });
    expect(record.createdAt).toBe(record.updatedAt);
    expect(await store.getDocument('acme', 'docs', 'doc-1')).toEqual(record);

    const hits = await store.search('acme', { vector: vec(0), model: MODEL, topK: 2 });
    expect(hits).toHaveLength(2);
    expect(hits[0]).toEqual({
      documentId: 'doc-1',
      chunkId: 'doc-1:1:0',
      version: 1,
      score: expect.closeTo(1, 5) as number,
      matched: ['vector'],
      scores: { vector: expect.closeTo(1, 5) as number },
      text: 'chunk 0',
      headingPath: ['Title', 'Section 0'],
      start: 0,
      end: 9,
      metadata: { lang: 'en', year: 2020, draft: false },
      collection: 'docs',
    } satisfies SearchHit);
    expect(hits[1]?.chunkId).toBe('doc-1:1:1');
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
  });

  it('bumps the version on replacement and removes the old chunks', async () => {
    const store = await open();
    const first = await store.replaceDocument(doc(), chunks(3));
    await store.replaceDocument(doc({ documentId: 'other' }), chunks(2));
    const second = await store.replaceDocument(doc({ title: 'Doc one v2' }), chunks(2, 1, 'new'));
    expect(second).toMatchObject({ version: 2, chunks: 2, title: 'Doc one v2', createdAt: first.createdAt });

    expect(await chunkRows(`document_id = 'doc-1'`)).toBe(2);
    expect(await chunkRows()).toBe(4);
    const hits = await store.search('acme', { vector: vec(1), model: MODEL, topK: 10, collection: 'docs' });
    const own = hits.filter((h) => h.documentId === 'doc-1');
    expect(own.map((h) => h.chunkId).sort()).toEqual(['doc-1:2:0', 'doc-1:2:1']);
    expect(own.every((h) => h.text.startsWith('new'))).toBe(true);
    // The third position of version 1 was tombstoned in the same commit; maintenance removes it.
    expect(await chunkRows(undefined, { tombstones: true })).toBe(5);
    await store.maintain();
    expect(await chunkRows(undefined, { tombstones: true })).toBe(4);
  });

  it('refuses a document without chunks', async () => {
    const store = await open();
    const error = await rejection(store.replaceDocument(doc(), []));
    expect(error.code).toBe('invalid_input');
  });
});

describe('group commit', () => {
  it('commits concurrent writes together, and gives each write of one document its own version', async () => {
    const store = await open();
    await store.replaceDocument(doc({ documentId: 'seed' }), chunks(1));
    const versionsBefore = await chunkVersions();
    const distinct = Array.from({ length: 40 }, (_, i) =>
      store.replaceDocument(doc({ documentId: `d${i}` }), chunks(2, i % DIM)),
    );
    const same = [3, 1, 2].map((count) => store.replaceDocument(doc(), chunks(count, 0, `n${count}`)));
    const written = await Promise.all([...distinct, ...same]);

    expect(written.slice(0, 40).every((record) => record.version === 1)).toBe(true);
    expect(written.slice(40).map((record) => record.version)).toEqual([1, 2, 3]);
    // The last write of doc-1 (2 chunks) is what is stored; the positions the longer ones used are gone.
    expect((await store.getDocument('acme', 'docs', 'doc-1'))?.version).toBe(3);
    const own = (await store.search('acme', { vector: vec(0), model: MODEL, topK: 50 })).filter(
      (h) => h.documentId === 'doc-1',
    );
    expect(own.map((h) => h.chunkId).sort()).toEqual(['doc-1:3:0', 'doc-1:3:1']);
    expect(await chunkRows()).toBe(1 + 40 * 2 + 2);
    // 43 writes; a commit per write would add at least 86 table versions.
    expect((await chunkVersions()) - versionsBefore).toBeLessThan(20);
  });

  it('fails a bad write alone and commits the rest of its group', async () => {
    const store = await open();
    await store.replaceDocument(doc({ documentId: 'seed' }), chunks(1));
    const wide = chunks(1).map((chunk) => ({ ...chunk, vector: vec(0, 0, 1, DIM * 2) }));
    const outcomes = await Promise.allSettled([
      store.replaceDocument(doc({ documentId: 'good-1' }), chunks(2)),
      store.replaceDocument(doc({ documentId: 'wide' }), wide),
      store.replaceDocument(
        doc({ documentId: 'other-model', collection: 'docs', model: 'other' }),
        chunks(1),
      ),
      store.replaceDocument(doc({ documentId: 'good-2' }), chunks(1)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    const reasons = outcomes.flatMap((o) => (o.status === 'rejected' ? [(o.reason as StoreError).code] : []));
    expect(reasons).toEqual(['dimension_mismatch', 'model_mismatch']);
    expect(await store.getDocument('acme', 'docs', 'wide')).toBeUndefined();
    expect(await chunkRows(`document_id IN ('good-1', 'good-2')`)).toBe(3);
  });

  it('writes a new document once even where an attempt that died between its commits left rows', async () => {
    const store = await open();
    await store.replaceDocument(doc({ documentId: 'seed' }), chunks(1));
    // What a writer leaves when it dies after committing a new document's chunks and before its
    // record: the rows at the document's positions, and no record.
    await store.replaceDocument(doc({ documentId: 'orphan' }), chunks(3, 1));
    const db = await connect(stores.dir);
    const documents = await db.openTable('documents');
    await documents.delete(`document_id = 'orphan'`);
    documents.close();
    db.close();
    expect(await store.getDocument('acme', 'docs', 'orphan')).toBeUndefined();

    // The retry, in a group with documents that are new for real.
    const written = await Promise.all([
      store.replaceDocument(doc({ documentId: 'orphan' }), chunks(3, 1, 'retried')),
      store.replaceDocument(doc({ documentId: 'new-1' }), chunks(2)),
      store.replaceDocument(doc({ documentId: 'new-2' }), chunks(1)),
    ]);
    expect(written.map((record) => record.version)).toEqual([1, 1, 1]);
    // One row per position: the retry replaced the rows left behind rather than adding to them.
    expect(await chunkRows(`document_id = 'orphan'`, { tombstones: true })).toBe(3);
    expect(await chunkRows(`document_id IN ('new-1', 'new-2')`, { tombstones: true })).toBe(3);
    const own = (await store.search('acme', { vector: vec(1), model: MODEL, topK: 20 })).filter(
      (h) => h.documentId === 'orphan',
    );
    expect(own.map((h) => h.text).sort()).toEqual(['retried 0', 'retried 1', 'retried 2']);
  });
});

describe('consistency across store instances', () => {
  it('shows a reader the commits of a writer opened on the same directory', async () => {
    const reader = await open();
    const writer = await open();
    // The reader opened before any table existed and must find it now.
    expect(await reader.search('acme', { vector: vec(0), model: MODEL, topK: 3 })).toEqual([]);
    await writer.replaceDocument(doc(), chunks(2));
    expect(await reader.search('acme', { vector: vec(0), model: MODEL, topK: 3 })).toHaveLength(2);
    await writer.replaceDocument(doc(), chunks(3));
    expect((await reader.getDocument('acme', 'docs', 'doc-1'))?.version).toBe(2);
    const hits = await reader.search('acme', { vector: vec(0), model: MODEL, topK: 10 });
    expect(hits.map((h) => h.version)).toEqual([2, 2, 2]);
  });

  it('never shows a concurrent reader a mixed or empty version', async () => {
    const writer = await open();
    const reader = await open();
    // A different chunk count per version makes a mix visible in the result size too.
    const countFor = (version: number): number => 2 + (version % 3);
    await writer.replaceDocument(doc(), chunks(countFor(1)));

    const replacements = 10;
    let writing = true;
    const observed: SearchHit[][] = [];
    const readLoop = async (): Promise<void> => {
      while (writing) {
        observed.push(await reader.search('acme', { vector: vec(0), model: MODEL, topK: 50 }));
      }
    };
    const readers = [readLoop(), readLoop()];
    for (let version = 2; version <= replacements + 1; version++) {
      await writer.replaceDocument(doc(), chunks(countFor(version), 0, `v${version}`));
    }
    writing = false;
    await Promise.all(readers);

    // The reads really interleaved with the writes: several versions were seen.
    expect(new Set(observed.map((hits) => hits[0]?.version)).size).toBeGreaterThan(1);
    for (const hits of observed) {
      const versions = new Set(hits.map((h) => h.version));
      expect(versions.size).toBe(1);
      const [version] = versions;
      expect(hits).toHaveLength(countFor(version!));
    }
    const last = await reader.search('acme', { vector: vec(0), model: MODEL, topK: 50 });
    expect(last.map((h) => h.version)).toEqual(Array(countFor(replacements + 1)).fill(replacements + 1));
  });
});

describe('a write whose record cannot be committed', () => {
  /** Makes commits to the documents table fail for real (even as root), reads still working. */
  async function breakDocumentCommits(): Promise<() => Promise<void>> {
    const transactions = join(stores.dir, 'documents.lance', '_transactions');
    await rename(transactions, `${transactions}.aside`);
    await writeFile(transactions, 'a file where LanceDB needs a directory');
    return async () => {
      await rm(transactions);
      await rename(`${transactions}.aside`, transactions);
    };
  }

  it('takes its chunks back, so searches see the previous version only', async () => {
    const store = await open();
    await store.replaceDocument(doc(), chunks(3, 0, 'old'));
    await store.replaceDocument(doc({ documentId: 'other' }), chunks(2));
    const repair = await breakDocumentCommits();

    const error = await rejection(store.replaceDocument(doc(), chunks(5, 0, 'new')));
    expect(error.code).toBe('unavailable');
    expect(error.message).toBe('Document store write failed; the previous version of "doc-1" is unchanged');
    // A document written for the first time leaves nothing behind either.
    await rejection(store.replaceDocument(doc({ documentId: 'fresh' }), chunks(2)));

    expect((await store.getDocument('acme', 'docs', 'doc-1'))?.version).toBe(1);
    expect(await chunkRows(`document_id = 'doc-1'`)).toBe(3);
    expect(await chunkRows(`document_id = 'fresh'`)).toBe(0);
    expect(await chunkRows(`document_id = 'other'`)).toBe(2);
    const hits = await store.search('acme', { vector: vec(0), model: MODEL, topK: 10, collection: 'docs' });
    const own = hits.filter((h) => h.documentId === 'doc-1');
    expect(own.map((h) => h.chunkId).sort()).toEqual(['doc-1:1:0', 'doc-1:1:1', 'doc-1:1:2']);
    expect(own.every((h) => h.text.startsWith('old'))).toBe(true);

    await repair();
    expect(await store.replaceDocument(doc(), chunks(5, 0, 'new'))).toMatchObject({ version: 2, chunks: 5 });
    expect(await chunkRows(`document_id = 'doc-1'`)).toBe(5);
  });
});

describe('scoping', () => {
  it('isolates tenants', async () => {
    const store = await open();
    await store.replaceDocument(doc({ tenant: 'acme' }), chunks(2));
    await store.replaceDocument(doc({ tenant: 'globex', title: 'Globex doc' }), chunks(1));

    const hits = await store.search('globex', { vector: vec(0), model: MODEL, topK: 10 });
    expect(hits.map((h) => h.chunkId)).toEqual(['doc-1:1:0']);
    expect(await store.search('initech', { vector: vec(0), model: MODEL, topK: 10 })).toEqual([]);
    expect((await store.getDocument('globex', 'docs', 'doc-1'))?.title).toBe('Globex doc');
    expect((await store.listDocuments('globex', { limit: 10 })).documents).toHaveLength(1);

    expect(await store.deleteDocument('globex', 'docs', 'doc-1')).toBe(true);
    expect(await store.search('acme', { vector: vec(0), model: MODEL, topK: 10 })).toHaveLength(2);
    expect((await store.getDocument('acme', 'docs', 'doc-1'))?.version).toBe(1);
  });

  it('scopes search, reads and replacement to a collection', async () => {
    const store = await open();
    await store.replaceDocument(doc({ collection: 'a' }), chunks(2));
    await store.replaceDocument(doc({ collection: 'b' }), chunks(3));
    // Replacing the document in "b" must not touch the same document id in "a".
    await store.replaceDocument(doc({ collection: 'b' }), chunks(1));

    const inA = await store.search('acme', { vector: vec(0), model: MODEL, topK: 10, collection: 'a' });
    expect(inA.map((h) => [h.collection, h.version])).toEqual([
      ['a', 1],
      ['a', 1],
    ]);
    const all = await store.search('acme', { vector: vec(0), model: MODEL, topK: 10 });
    expect(all.map((h) => h.collection).sort()).toEqual(['a', 'a', 'b']);
    expect((await store.getDocument('acme', 'b', 'doc-1'))?.version).toBe(2);
  });
});

describe('metadata filters', () => {
  async function seed(store: Store): Promise<void> {
    // "near" sits right on the query vector; the others are further away.
    await store.replaceDocument(doc({ documentId: 'near', metadata: { lang: 'en', year: 2020 } }), [
      { text: 'near', headingPath: [], start: 0, end: 4, vector: vec(0) },
    ]);
    await store.replaceDocument(doc({ documentId: 'mid', metadata: { lang: 'fr', year: '2020' } }), [
      { text: 'mid', headingPath: [], start: 0, end: 3, vector: vec(0, 0.5) },
    ]);
    await store.replaceDocument(doc({ documentId: 'far', metadata: { lang: 'de', year: 2021, ok: true } }), [
      { text: 'far', headingPath: [], start: 0, end: 3, vector: vec(0, 2) },
    ]);
  }
  const search = (store: Store, filter: Record<string, unknown>, topK = 1): Promise<SearchHit[]> =>
    store.search('acme', { vector: vec(0), model: MODEL, topK, filter: filter as never });

  it('filters by equality inside the query, before topK', async () => {
    const store = await open();
    await seed(store);
    expect((await search(store, { lang: 'de' })).map((h) => h.documentId)).toEqual(['far']);
    expect((await search(store, { ok: true })).map((h) => h.documentId)).toEqual(['far']);
    expect((await search(store, { year: 2021, lang: 'de' })).map((h) => h.documentId)).toEqual(['far']);
    expect(await search(store, { year: 2021, lang: 'en' })).toEqual([]);
    // Types are kept apart: the string "2020" is not the number 2020.
    expect((await search(store, { year: '2020' })).map((h) => h.documentId)).toEqual(['mid']);
    expect((await search(store, { year: 2020 }, 5)).map((h) => h.documentId)).toEqual(['near']);
  });

  it('filters by membership with an array', async () => {
    const store = await open();
    await seed(store);
    expect((await search(store, { lang: ['de', 'fr'] })).map((h) => h.documentId)).toEqual(['mid']);
    expect((await search(store, { lang: ['de', 'fr'] }, 5)).map((h) => h.documentId)).toEqual(['mid', 'far']);
    expect((await search(store, { lang: ['de'] })).map((h) => h.documentId)).toEqual(['far']);
  });

  it('refuses keys and values it cannot express', async () => {
    const store = await open();
    await seed(store);
    for (const filter of [
      { "lang') OR true --": 'x' },
      { '': 'x' },
      { lang: [] },
      { lang: { en: 1 } },
      { n: NaN },
    ]) {
      const error = await rejection(search(store, filter));
      expect(error.code).toBe('invalid_filter');
    }
  });
});

describe('user-supplied strings', () => {
  it('handles quotes and backslashes in ids, metadata and filters', async () => {
    const store = await open();
    const tenant = "o'neil";
    const collection = "it's";
    const documentId = `a'b"c\\d' OR '1'='1`;
    const metadata = { author: "O'Brien \\ co", lang: 'en' };
    await store.replaceDocument(doc({ tenant, collection, documentId, metadata }), chunks(2));
    await store.replaceDocument(
      doc({ tenant, collection, documentId: 'plain', metadata: { lang: 'en' } }),
      chunks(1),
    );

    expect((await store.getDocument(tenant, collection, documentId))?.metadata).toEqual(metadata);
    const hits = await store.search(tenant, {
      vector: vec(0),
      model: MODEL,
      topK: 10,
      collection,
      filter: { author: "O'Brien \\ co" },
    });
    expect(hits.map((h) => h.documentId)).toEqual([documentId, documentId]);
    expect(hits[0]?.chunkId).toBe(`${documentId}:1:0`);

    await store.replaceDocument(doc({ tenant, collection, documentId, metadata }), chunks(1));
    expect(await chunkRows()).toBe(2);
    expect(await store.deleteDocument(tenant, collection, documentId)).toBe(true);
    expect(await store.getDocument(tenant, collection, 'plain')).toBeDefined();
    expect(await chunkRows()).toBe(1);
  });
});

describe('deleteDocument', () => {
  it('removes the record and its chunks, once', async () => {
    const store = await open();
    await store.replaceDocument(doc(), chunks(2));
    await store.replaceDocument(doc({ documentId: 'keep' }), chunks(1));
    expect(await store.deleteDocument('acme', 'docs', 'doc-1')).toBe(true);
    expect(await store.deleteDocument('acme', 'docs', 'doc-1')).toBe(false);
    expect(await store.getDocument('acme', 'docs', 'doc-1')).toBeUndefined();
    const hits = await store.search('acme', { vector: vec(0), model: MODEL, topK: 10 });
    expect(hits.map((h) => h.documentId)).toEqual(['keep']);
  });
});

describe('listDocuments', () => {
  it('pages through documents in (collection, documentId) order', async () => {
    const store = await open();
    const keys = [
      ['b', 'x'],
      ['a', 'z'],
      ['b', 'a'],
      ['a', 'a'],
      ['a', 'm'],
    ] as const;
    for (const [collection, documentId] of keys) {
      await store.replaceDocument(doc({ collection, documentId }), chunks(1));
    }
    await store.replaceDocument(doc({ tenant: 'other', collection: 'a', documentId: 'b' }), chunks(1));

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.listDocuments('acme', { limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.documents.map((d) => `${d.collection}/${d.documentId}`));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(['a/a', 'a/m', 'a/z', 'b/a', 'b/x']);
    expect(pages).toBe(3);

    const onlyB = await store.listDocuments('acme', { collection: 'b', limit: 5 });
    expect(onlyB.documents.map((d) => d.documentId)).toEqual(['a', 'x']);
    expect(onlyB.nextCursor).toBeUndefined();

    expect((await rejection(store.listDocuments('acme', { limit: 2, cursor: 'nope' }))).code).toBe(
      'invalid_cursor',
    );
  });
});

describe('embedding models and dimensions', () => {
  it('refuses a second model in a collection, on write and on search', async () => {
    const store = await open();
    await store.replaceDocument(doc(), chunks(1));
    const write = await rejection(
      store.replaceDocument(doc({ documentId: 'doc-2', model: 'other' }), chunks(1)),
    );
    expect(write.code).toBe('model_mismatch');
    expect(write.message).toContain('"test-model"');
    expect(write.message).toContain('"other"');

    // Another collection may use another model of the same dimension.
    await store.replaceDocument(doc({ collection: 'other-docs', model: 'other' }), chunks(1));
    const search = await rejection(
      store.search('acme', { vector: vec(0), model: 'other', topK: 3, collection: 'docs' }),
    );
    expect(search.code).toBe('model_mismatch');
    // Across collections, only the query model's collections are searched.
    const hits = await store.search('acme', { vector: vec(0), model: 'other', topK: 3 });
    expect(hits.map((h) => h.collection)).toEqual(['other-docs']);
    const none = await rejection(store.search('acme', { vector: vec(0), model: 'third', topK: 3 }));
    expect(none.code).toBe('model_mismatch');
  });

  it('lets the only document of a collection be re-embedded with a new model', async () => {
    const store = await open();
    await store.replaceDocument(doc(), chunks(1));
    const record = await store.replaceDocument(doc({ model: 'newer' }), chunks(1));
    expect(record).toMatchObject({ model: 'newer', version: 2 });
  });

  it('refuses vectors of another dimension, naming both', async () => {
    const store = await open();
    await store.replaceDocument(doc(), chunks(1));
    const small = [{ text: 't', headingPath: [], start: 0, end: 1, vector: vec(0, 0, 1, 4) }];
    const write = await rejection(store.replaceDocument(doc({ documentId: 'small' }), small));
    expect(write.code).toBe('dimension_mismatch');
    expect(write.message).toMatch(/\b4\b.*\b8\b/);

    const search = await rejection(store.search('acme', { vector: vec(0, 0, 1, 4), model: MODEL, topK: 1 }));
    expect(search.code).toBe('dimension_mismatch');
    expect(search.message).toMatch(/\b4\b.*\b8\b/);
  });
});

describe('close', () => {
  it('is idempotent and refuses later calls', async () => {
    const store = await open();
    await store.replaceDocument(doc(), chunks(1));
    await Promise.all([store.close(), store.close()]);
    await store.close();
    expect((await rejection(store.ping())).code).toBe('unavailable');
    expect((await rejection(store.getDocument('acme', 'docs', 'doc-1'))).code).toBe('unavailable');
  });
});
