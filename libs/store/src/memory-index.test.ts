import { describe, expect, it } from 'vitest';
import { MemoryIndex, type IndexedChunk } from './memory-index.ts';

const DIM = 16;
const WORDS = ['gale', 'fog', 'lamp', 'wick', 'tide', 'reef', 'buoy', 'mast', 'keel', 'hull'];

function chunk(n: number, version = 1, overrides: Partial<IndexedChunk> = {}): IndexedChunk {
  const vector = new Float32Array(DIM);
  vector[n % DIM] = 1;
  vector[(n * 7 + 3) % DIM] = 0.25 + (n % 4) / 8;
  const documentId = `doc-${Math.floor(n / 2)}`;
  const chunkId = `${documentId}:${version}:${n % 2}`;
  return {
    key: `acme\u001fdocs\u001f${chunkId}`,
    tenant: 'acme',
    collection: 'docs',
    documentId,
    chunkId,
    version,
    model: 'm',
    text: `text ${n}`,
    headingPath: [],
    start: 0,
    end: 1,
    metadata: { shelf: n % 3 },
    metaKv: [`shelf=${n % 3}`],
    vector,
    searchText: `${WORDS[n % WORDS.length]} ${WORDS[(n * 3) % WORDS.length]} log ${n}`,
    ...overrides,
  };
}

const search = (index: MemoryIndex, text: string, vector?: Float32Array) =>
  index.search({ tenant: 'acme', model: 'm', text, ...(vector ? { vector } : {}), depth: 20 });

const probe = (): Float32Array => {
  const vector = new Float32Array(DIM);
  vector[3] = 1;
  vector[10] = 0.5;
  return vector;
};

describe('the in-memory index', () => {
  it('answers the same after a compaction that drops the removed rows', async () => {
    const index = new MemoryIndex(DIM);
    const all = Array.from({ length: 3_000 }, (_, n) => chunk(n));
    for (const c of all) index.add(c);
    // Remove every other pair of rows: 1,500 dead slots, past a third, so the tenant is wasteful.
    const survivors = new MemoryIndex(DIM);
    all.forEach((c, n) => {
      if (n % 4 < 2) index.remove(c.key, 'acme');
      else survivors.add(c);
    });
    expect(index.size).toBe(1_500);
    expect(index.wasteful()).toEqual(['acme']);
    let pauses = 0;
    await index.compact('acme', () => {
      pauses += 1;
      return Promise.resolve();
    });
    expect(pauses).toBeGreaterThan(10);
    expect(index.wasteful()).toEqual([]);
    for (const text of ['gale reef', 'lamp', 'keel hull log']) {
      const [got, want] = [search(index, text, probe()), search(survivors, text, probe())];
      expect(got.text.length).toBeGreaterThan(0);
      expect(got.text.map((hit) => [hit.chunkId, hit.score])).toEqual(
        want.text.map((hit) => [hit.chunkId, hit.score]),
      );
      expect(got.vector?.map((hit) => hit.chunkId)).toEqual(want.vector?.map((hit) => hit.chunkId));
    }
  });

  it('finds the exact cosine best over many thousands of rows, negative scores too', () => {
    // 20,000 rows span several of the vector scan's segments, and the scan passes on only the rows
    // over the floor it has reached: every answer is checked against scoring every row.
    // mulberry32: reproducible, and without the short cycles of a naive generator in doubles.
    let seed = 11;
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296 - 0.5;
    };
    const index = new MemoryIndex(DIM);
    const rows: IndexedChunk[] = [];
    for (let n = 0; n < 20_000; n++) {
      // A small collection whose rows all point away from the queries: its best cosines are negative.
      const away = n % 10 === 0;
      const vector = Float32Array.from({ length: DIM }, (_, d) =>
        away ? -Math.abs(random()) - (d < 6 ? 1 : 0) : random() > 0.3 ? random() : 0,
      );
      const row = chunk(n, 1, { vector, collection: away ? 'away' : 'docs' });
      rows.push(row);
      index.add(row);
    }
    // A row of zeros scores 0, as in the index.
    const cosine = (a: Float32Array, b: Float32Array) => {
      let dot = 0;
      for (let d = 0; d < DIM; d++) dot += (a[d] as number) * (b[d] as number);
      const norms = Math.hypot(...a) * Math.hypot(...b);
      return norms === 0 ? 0 : dot / norms;
    };
    for (const collection of ['docs', 'away']) {
      for (let q = 0; q < 5; q++) {
        const query = new Float32Array(DIM);
        for (let k = 0; k < 2 + q; k++) query[k] = 0.3 + Math.abs(random());
        const got = index.search({ tenant: 'acme', collection, model: 'm', vector: query, depth: 20 })
          .vector as NonNullable<ReturnType<MemoryIndex['search']>['vector']>;
        const want = rows
          .filter((row) => row.collection === collection)
          .map((row) => ({ chunkId: row.chunkId, score: cosine(row.vector, query) }))
          .sort((a, b) => b.score - a.score)
          .slice(0, 20);
        expect(got).toHaveLength(20);
        got.forEach((hit, i) => expect(hit.score).toBeCloseTo((want[i] as { score: number }).score, 5));
        if (collection === 'away') expect(got.every((hit) => hit.score < 0)).toBe(true);
        // Rows tied to the sixth decimal may swap places; any other difference is a row missed.
        const clear = want.filter((w, i) => Math.abs(w.score - (want[i + 1]?.score ?? -2)) > 1e-6);
        const gotIds = new Set(got.map((hit) => hit.chunkId));
        expect(clear.filter((w) => !gotIds.has(w.chunkId))).toEqual([]);
      }
    }
  });

  it("searches each document's newest version only, and the older again once the newer is gone", () => {
    const index = new MemoryIndex(DIM);
    const old = chunk(0, 1, { searchText: 'fog bank' });
    const newer = chunk(0, 2, { searchText: 'fog horn' });
    index.add(old);
    index.add(newer);
    expect(search(index, 'fog').text.map((hit) => hit.chunkId)).toEqual(['doc-0:2:0']);
    index.remove(newer.key, 'acme');
    expect(search(index, 'fog').text.map((hit) => hit.chunkId)).toEqual(['doc-0:1:0']);
  });

  it('keeps to the filter (one of the values, every key), the collection and the model', () => {
    const index = new MemoryIndex(DIM);
    for (let n = 0; n < 30; n++) {
      index.add(
        chunk(n, 1, { collection: n < 15 ? 'docs' : 'other', model: n % 5 === 0 ? 'old-model' : 'm' }),
      );
    }
    const hits = index.search({ tenant: 'acme', text: 'log', filter: { shelf: [0, 2] }, depth: 100 }).text;
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.every((hit) => hit.metadata['shelf'] !== 1)).toBe(true);
    const scoped = index.search({
      tenant: 'acme',
      collection: 'other',
      model: 'm',
      text: 'log',
      depth: 100,
    }).text;
    expect(scoped.map((hit) => hit.collection)).toEqual(Array(scoped.length).fill('other'));
    expect(scoped).toHaveLength(12);
    expect(index.search({ tenant: 'globex', text: 'log', depth: 100 }).text).toEqual([]);
  });
});
