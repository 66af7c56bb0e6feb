import { connect } from '@lancedb/lancedb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeChange } from './change-notes.ts';
import { SearchMirror } from './search-mirror.ts';
import { openStoreReader, type StoreReader } from './roles.ts';
import type { ChunkInput, SearchHit, SearchQuery } from './index.ts';
import { TEST_MODEL, testDocument } from './test-documents.ts';
import { tempStores } from './test-stores.ts';

/**
 * A reader with the search mirror answers searches from memory. What a user must never notice:
 * an answer different from LanceDB's, a commit it does not see yet, an old version, a deleted
 * document, a chunk lost or doubled while the delta moves into the main table.
 */

const DIM = 8;
const stores = tempStores('mirror');
beforeEach(stores.setUp);
afterEach(async () => {
  await Promise.all(readers.splice(0).map((reader) => reader.close()));
  await stores.tearDown();
});
const readers: StoreReader[] = [];

const WORDS = ['lighthouse', 'harbour', 'keeper', 'storm', 'wick', 'lantern', 'beacon', 'tide'];

/** Chunks whose text and vector both depend on the document number, so every query ranks them. */
function chunks(document: number, count = 3, extra = ''): ChunkInput[] {
  return Array.from({ length: count }, (_, i) => {
    const vector = new Float32Array(DIM);
    vector[(document + i) % DIM] = 1 + (i % 3);
    vector[(document * 3 + i + 1) % DIM] = 0.5 + (document % 5) / 10;
    const words = [WORDS[document % WORDS.length], WORDS[(document + i) % WORDS.length], extra];
    return {
      text: `${words.join(' ')} note ${document} part ${i}`,
      headingPath: [],
      start: i,
      end: i + 1,
      vector,
    };
  });
}

/** A query vector with two non-zero dimensions (a sparse one, as the built-in embedder's are). */
function queryVector(first: number, second: number): Float32Array {
  const vector = new Float32Array(DIM);
  vector[first] = 1;
  vector[second] = 0.5;
  return vector;
}

/** What answered each search of the mirrored readers, in order. */
let engines: string[] = [];
beforeEach(() => {
  engines = [];
});

async function mirroredReader(
  options: { maxRows?: number; maxHeapMb?: number; offs?: string[] } = {},
): Promise<StoreReader> {
  let ready: () => void = () => undefined;
  const loaded = new Promise<void>((resolve) => {
    ready = resolve;
  });
  const reader = await openStoreReader({
    uri: stores.dir,
    searchMirror: {
      maxRows: options.maxRows ?? 100_000,
      ...(options.maxHeapMb === undefined ? {} : { maxHeapMb: options.maxHeapMb }),
      onReady: () => ready(),
      onOff: (reason) => {
        options.offs?.push(reason);
        ready();
      },
    },
    onSearch: (engine) => engines.push(engine),
  });
  readers.push(reader);
  await loaded;
  return reader;
}

async function plainReader(): Promise<StoreReader> {
  const reader = await openStoreReader({ uri: stores.dir });
  readers.push(reader);
  return reader;
}

const ids = (hits: SearchHit[]): string[] => hits.map((hit) => `${hit.collection}/${hit.chunkId}`);

describe('the search mirror', () => {
  it('answers as LanceDB does: the same vector hits and scores, the same text and hybrid matches', async () => {
    // The full-text index built after every write, so LanceDB's text side sees every row.
    const writer = await stores.open({ maxUnindexedRows: 1, maxDeltaRows: 40 });
    for (let document = 0; document < 30; document++) {
      const collection = document % 3 === 0 ? 'other' : 'default';
      await writer.replaceDocument(
        { ...testDocument(`doc-${document}`, { lang: document % 2 === 0 ? 'en' : 'fr' }), collection },
        chunks(document),
      );
    }
    await writer.maintain();
    const mirrored = await mirroredReader();
    const plain = await plainReader();
    const queries: SearchQuery[] = [
      { mode: 'vector', vector: queryVector(1, 4), model: TEST_MODEL, topK: 10 },
      { mode: 'vector', vector: queryVector(6, 2), model: TEST_MODEL, topK: 5, collection: 'other' },
      { mode: 'vector', vector: queryVector(0, 3), model: TEST_MODEL, topK: 8, filter: { lang: 'fr' } },
    ];
    for (const query of queries) {
      const [fromMemory, fromLance] = [
        await mirrored.search('acme', query),
        await plain.search('acme', query),
      ];
      expect(fromMemory.length).toBeGreaterThan(0);
      expect(ids(fromMemory)).toEqual(ids(fromLance));
      fromMemory.forEach((hit, i) => expect(hit.score).toBeCloseTo(fromLance[i]?.score ?? NaN, 5));
      expect(fromMemory.map(({ score: _s, scores: _ss, ...rest }) => rest)).toEqual(
        fromLance.map(({ score: _s, scores: _ss, ...rest }) => rest),
      );
    }
    // Text: BM25 over the same analysis; every chunk that shares a term is found by both.
    for (const text of ['storm keepers', 'lanterns of the harbour', 'tide']) {
      const query: SearchQuery = { mode: 'text', text, topK: 100 };
      const fromMemory = await mirrored.search('acme', query);
      expect(fromMemory.length).toBeGreaterThan(0);
      expect(new Set(ids(fromMemory))).toEqual(new Set(ids(await plain.search('acme', query))));
      const hybrid: SearchQuery = { text, vector: queryVector(2, 5), model: TEST_MODEL, topK: 100 };
      expect(new Set(ids(await mirrored.search('acme', hybrid)))).toEqual(
        new Set(ids(await plain.search('acme', hybrid))),
      );
    }
    // Another tenant sees nothing of acme's.
    expect(await mirrored.search('globex', { mode: 'text', text: 'storm', topK: 10 })).toEqual([]);
    expect(new Set(engines)).toEqual(new Set(['mirror']));
  });

  it("sees every commit made before the search: new documents, a replacement's new version only, deletes", async () => {
    const writer = await stores.open({ maxUnindexedRows: 100_000, maxUnindexedSeconds: 3_600 });
    await writer.replaceDocument(testDocument('first'), chunks(1));
    const mirrored = await mirroredReader();
    const text = async (words: string): Promise<string[]> =>
      ids(await mirrored.search('acme', { mode: 'text', text: words, topK: 50 })).sort();
    expect(await text('harbour')).toEqual(['docs/first:1:0', 'docs/first:1:1', 'docs/first:1:2']);

    await writer.replaceDocument(testDocument('second'), chunks(2, 2, 'gannet'));
    expect(await text('gannet')).toEqual(['docs/second:1:0', 'docs/second:1:1']);

    // A replacement: the new version's words are found, the old version's are gone.
    await writer.replaceDocument(testDocument('second'), chunks(2, 1, 'puffin'));
    expect(await text('puffin')).toEqual(['docs/second:2:0']);
    expect(await text('gannet')).toEqual([]);
    const vectorHits = await mirrored.search('acme', {
      mode: 'vector',
      vector: queryVector(2, 7),
      model: TEST_MODEL,
      topK: 50,
    });
    expect(vectorHits.filter((hit) => hit.documentId === 'second').map((hit) => hit.version)).toEqual([2]);

    expect(await writer.deleteDocument('acme', 'docs', 'first')).toBe(true);
    expect(await text('harbour')).toEqual([]);
    expect(await text('note')).toEqual(['docs/second:2:0']);
    expect(new Set(engines)).toEqual(new Set(['mirror']));
  });

  it('finds every chunk once while the delta moves into the main table', async () => {
    const writer = await stores.open({ maxDeltaRows: 12, moveGraceSeconds: 1 });
    await writer.replaceDocument(testDocument('doc-0'), chunks(0, 3, 'puffin'));
    const mirrored = await mirroredReader();
    let written = 3;
    for (let document = 1; document < 20; document++) {
      await writer.replaceDocument(testDocument(`doc-${document}`), chunks(document, 3, 'puffin'));
      written += 3;
      const hits = await mirrored.search('acme', { mode: 'text', text: 'puffin', topK: 500 });
      expect(hits).toHaveLength(written);
      expect(new Set(ids(hits)).size).toBe(written);
    }
    // Past the grace the moved rows leave the delta; the mirror still holds each once.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await writer.maintain();
    const hits = await mirrored.search('acme', { mode: 'text', text: 'puffin', topK: 500 });
    expect(new Set(ids(hits)).size).toBe(60);
    expect(hits).toHaveLength(60);
    expect(new Set(engines)).toEqual(new Set(['mirror']));
  });

  it('sees every write finished before a search began, with searches and writes at once while the delta moves', async () => {
    const writer = await stores.open({ maxDeltaRows: 12, moveGraceSeconds: 1 });
    await writer.replaceDocument(testDocument('doc-0'), chunks(0, 3, 'puffin'));
    const mirrored = await mirroredReader();
    // Documents whose write has returned: a search that begins after that must find all three chunks.
    let finished = 1;
    let writing = true;
    const writes = (async () => {
      try {
        for (let document = 1; document < 40; document++) {
          // Every fifth write replaces an earlier document: its old version's rows leave the tables.
          const replaced = document % 5 === 0 ? document - 3 : undefined;
          if (replaced !== undefined) {
            await writer.replaceDocument(testDocument(`doc-${replaced}`), chunks(replaced, 3, 'puffin'));
          }
          await writer.replaceDocument(testDocument(`doc-${document}`), chunks(document, 3, 'puffin'));
          finished = document + 1;
        }
      } finally {
        writing = false;
      }
    })();
    const searches = await Promise.all(
      Array.from({ length: 4 }, async () => {
        let made = 0;
        while (writing) {
          const expected = finished;
          const hits = await mirrored.search('acme', { mode: 'text', text: 'puffin', topK: 500 });
          const found = new Set(ids(hits));
          expect(found.size).toBe(hits.length);
          for (let document = 0; document < expected; document++) {
            const chunksOf = hits.filter((hit) => hit.documentId === `doc-${document}`);
            // One version of each document, whole: its three chunks.
            expect(
              new Set(chunksOf.map((hit) => hit.version)).size,
              `doc-${document} after ${expected} writes`,
            ).toBe(1);
            expect(chunksOf).toHaveLength(3);
          }
          made++;
        }
        return made;
      }),
    );
    await writes;
    expect(searches.every((made) => made > 0)).toBe(true);
    // Past the grace the moved rows leave the delta; the mirror still holds each chunk once.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await writer.maintain();
    const hits = await mirrored.search('acme', { mode: 'text', text: 'puffin', topK: 500 });
    expect(hits).toHaveLength(120);
    expect(new Set(ids(hits)).size).toBe(120);
    expect(new Set(engines)).toEqual(new Set(['mirror']));
  });

  it('sees a replacement with as many chunks as the version it replaces', async () => {
    const writer = await stores.open({ maxUnindexedRows: 100_000, maxUnindexedSeconds: 3_600 });
    for (let document = 0; document < 5; document++) {
      await writer.replaceDocument(testDocument(`doc-${document}`), chunks(document, 3, 'gannet'));
    }
    const mirrored = await mirroredReader();
    const text = async (words: string): Promise<string[]> =>
      ids(await mirrored.search('acme', { mode: 'text', text: words, topK: 50 })).sort();
    expect(await text('gannet')).toHaveLength(15);
    // The table's row count does not change: three rows deleted, three appended, in one commit.
    await writer.replaceDocument(testDocument('doc-2'), chunks(2, 3, 'puffin'));
    expect(await text('puffin')).toEqual(['docs/doc-2:2:0', 'docs/doc-2:2:1', 'docs/doc-2:2:2']);
    expect(await text('gannet')).toHaveLength(12);
    expect(new Set(engines)).toEqual(new Set(['mirror']));
  });

  it('answers itself while a large delta moves into the main table', async () => {
    const writer = await stores.open({ quietMoveSeconds: 1, moveGraceSeconds: 1 });
    await writer.replaceDocument(testDocument('first'), chunks(0));
    const mirrored = await mirroredReader();
    await Promise.all(
      Array.from({ length: 40 }, (_, document) =>
        writer.replaceDocument(testDocument(`import-${document}`), chunks(document, 60, 'puffin')),
      ),
    );
    const query: SearchQuery = { mode: 'text', text: 'puffin', topK: 3_000 };
    await expect
      .poll(async () => `${(await mirrored.search('acme', query)).length} ${engines.at(-1)}`, {
        timeout: 20_000,
        interval: 200,
      })
      .toBe('2400 mirror');
    engines = [];
    // No commit for a second: the delta's 2,400 rows move into the main table. Rows the mirror
    // holds already: it reads their keys, and answers.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    await writer.maintain();
    expect(new Set(ids(await mirrored.search('acme', query))).size).toBe(2_400);
    // Past the grace they leave the delta.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    await writer.maintain();
    const hits = await mirrored.search('acme', query);
    expect(hits).toHaveLength(2_400);
    expect(new Set(ids(hits)).size).toBe(2_400);
    expect(engines).toEqual(['mirror', 'mirror']);
  });

  it('lets LanceDB answer while it reads a large import, then answers again itself', async () => {
    const writer = await stores.open();
    await writer.replaceDocument(testDocument('first'), chunks(0));
    const mirrored = await mirroredReader();
    await mirrored.search('acme', { mode: 'text', text: 'note', topK: 5 });
    expect(engines).toEqual(['mirror']);
    // 2,400 chunks the mirror has not seen: more than a search waits for.
    await Promise.all(
      Array.from({ length: 40 }, (_, document) =>
        writer.replaceDocument(testDocument(`import-${document}`), chunks(document, 60, 'puffin')),
      ),
    );
    const query: SearchQuery = { mode: 'text', text: 'puffin', topK: 3_000 };
    const during = await mirrored.search('acme', query);
    expect(during).toHaveLength(2_400);
    expect(engines.at(-1)).toBe('lancedb');
    // It goes on reading meanwhile, and then serves the import itself.
    await expect
      .poll(
        async () => {
          const hits = await mirrored.search('acme', query);
          return `${engines.at(-1)} ${hits.length}`;
        },
        { timeout: 20_000, interval: 200 },
      )
      .toBe('mirror 2400');
  });

  it('turns itself off past maxRows, and LanceDB answers instead', async () => {
    const writer = await stores.open({ maxUnindexedRows: 1 });
    for (let document = 0; document < 4; document++) {
      await writer.replaceDocument(testDocument(`doc-${document}`), chunks(document));
    }
    await writer.maintain();
    const offs: string[] = [];
    const mirrored = await mirroredReader({ maxRows: 10, offs });
    expect(offs).toEqual([expect.stringContaining('more than 10')]);
    const hits = await mirrored.search('acme', { mode: 'text', text: 'note', topK: 50 });
    expect(hits).toHaveLength(12);
    expect(engines).toEqual(['lancedb']);
  });

  it("survives its thread running out of memory: LanceDB answers, the reader's process goes on", async () => {
    const writer = await stores.open();
    // ~600k distinct words: far more terms and postings than the thread's 32 MB heap holds.
    for (let document = 0; document < 60; document++) {
      const input = chunks(document, 5).map((chunk, i) => ({
        ...chunk,
        text: `${chunk.text} ${Array.from({ length: 2_000 }, (_, k) => `w${document}x${i}x${k}`).join(' ')}`,
      }));
      await writer.replaceDocument(testDocument(`doc-${document}`), input);
    }
    const offs: string[] = [];
    const mirrored = await mirroredReader({ maxHeapMb: 32, offs });
    expect(offs).toEqual([expect.stringContaining('out of memory')]);
    const hits = await mirrored.search('acme', { mode: 'text', text: 'w7x2x1999', topK: 50 });
    expect(ids(hits)).toEqual(['docs/doc-7:1:2']);
    expect(engines).toEqual(['lancedb']);
  });
});

describe("the search mirror's notes", () => {
  it('applies a note that comes while it reads the tables after the rows it read, so the read cannot undo it', async () => {
    const writer = await stores.open();
    await writer.replaceDocument(testDocument('kept'), chunks(1, 2, 'gannet'));
    const db = await connect({ uri: stores.dir, readConsistencyInterval: 0 });
    let ready: () => void = () => undefined;
    const loaded = new Promise<void>((resolve) => (ready = resolve));
    const mirror = new SearchMirror(db, { maxRows: 1_000, onReady: () => ready() });
    mirror.start();
    try {
      await loaded;
      // The clock as the mirror knows it: count 1 read.
      await mirror.current({ clock: { epoch: 'e', count: 1 } });
      // A document the mirror has not read yet, then a search that needs count 3: it reads the
      // tables, and meanwhile count 2's note says the document is deleted.
      await writer.replaceDocument(testDocument('gone'), chunks(2, 2, 'gannet'));
      const reading = mirror.current({ clock: { epoch: 'e', count: 3 } });
      const note = encodeChange([], [{ tenant: 'acme', collection: 'docs', documentId: 'gone', version: 0 }]);
      mirror.tick({ epoch: 'e', count: 2, ...(note === undefined ? {} : { note }) });
      const index = await reading;
      const hits = index?.answer({ tenant: 'acme', text: 'gannet', depth: 10 }, 'text', 10) ?? [];
      // The read took the document's rows (they were new to it), and the note, applied again
      // after them, removed them.
      expect(hits.map((hit) => hit.documentId)).toEqual(['kept', 'kept']);
    } finally {
      await mirror.close();
      db.close();
    }
  });
});
