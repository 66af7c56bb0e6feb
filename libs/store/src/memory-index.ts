import { documentKey } from './keys.ts';
import { metadataEntry } from './metadata.ts';
import { analyzeText, termOf, words } from './text-analysis.ts';
import { BLOCK_ROWS, VectorBlocks } from './simd/vector-blocks.ts';
import { fuseHits } from './fusion.ts';
import type { MetadataFilter, SearchHit, SearchMode, SearchSignal } from './types.ts';

/**
 * One chunk row as the in-memory index holds it: what a hit returns, and what ranks it.
 * `key` names the row in its table: tenant, collection and chunk id (which holds the version).
 */
export interface IndexedChunk extends Omit<SearchHit, 'score' | 'matched' | 'scores'> {
  key: string;
  tenant: string;
  model: string;
  metaKv: readonly string[];
  vector: Float32Array;
  searchText: string;
}

/** What one search asks of the index (validated by the store before). */
export interface IndexQuery {
  tenant: string;
  collection?: string;
  /** Vector side. */
  vector?: Float32Array;
  /** When set, both sides see only this model's chunks. */
  model?: string;
  /** Text side. */
  text?: string;
  filter?: MetadataFilter;
  depth: number;
}

/** Rows a compaction copies between pauses (~4 ms of work). */
const COMPACT_SLICE_ROWS = 100;
// BM25 as LanceDB scores it.
const K1 = 1.2;
const B = 0.75;
/**
 * The vector side is served when the query vector has at most this share of non-zero dimensions.
 * The scan costs one pass over the rows per non-zero dimension: the built-in embedder's queries
 * (a few words, hashed) fill ~15% of them; a dense model's fill all, and those go to LanceDB.
 */
const MAX_QUERY_DENSITY = 0.4;

interface Posting {
  slots: Int32Array;
  counts: Uint16Array;
  size: number;
  /** Postings of live rows: the term's document frequency. */
  live: number;
}

/** A document's rows by version: a row of any other version than the highest is not searched. */
interface IndexedDocument {
  /** Live rows per version. */
  versions: Map<number, number>;
  latest: number;
  /** Its live rows' keys, every version's, with their versions. */
  keys: Map<string, number>;
}

/** What a row keeps once indexed: its vector lives in the blocks, its search text as terms. */
type StoredChunk = Omit<IndexedChunk, 'vector' | 'searchText'>;

interface Row {
  chunk: StoredChunk;
  document: IndexedDocument;
  /**
   * Where the row's distinct terms are in the tenant's term pool: `termCount` pairs of (term id,
   * occurrences) from `termsAt` (one pool, not two small arrays per row: 100k rows' worth of
   * typed arrays cost more in overhead than in data).
   */
  termsAt: number;
  termCount: number;
}

/**
 * One tenant's chunks in memory: an inverted index for BM25 and the vectors (see
 * {@link VectorBlocks}: a query vector with few non-zero dimensions, the built-in lexical
 * embedder's, scores every row in one SIMD pass per dimension it has). Rows are appended to
 * slots; a removed row leaves a dead slot behind until {@link MemoryIndex.compact} rebuilds it.
 */
class TenantIndex {
  readonly #rows: (Row | undefined)[] = [];
  readonly #vectors: VectorBlocks;
  #lengths = new Float32Array(BLOCK_ROWS);
  readonly #termIds = new Map<string, number>();
  #termCounts = new Int32Array(BLOCK_ROWS);
  /** Words seen in this tenant's rows and their term ids (-1: not indexed, a stop word). */
  readonly #wordIds = new Map<string, number>();
  readonly #terms: string[] = [];
  #termPool = new Int32Array(BLOCK_ROWS);
  #poolEnd = 0;
  readonly #postings: Posting[] = [];
  readonly #documents = new Map<string, IndexedDocument>();
  #live = 0;
  #totalLength = 0;
  // Scratch space reused by searches (one runs at a time: they are synchronous).
  #scores = new Float32Array(BLOCK_ROWS);
  #touched = new Int32Array(BLOCK_ROWS);

  constructor(dimension: number) {
    this.#vectors = new VectorBlocks(dimension);
  }

  get live(): number {
    return this.#live;
  }

  get dead(): number {
    return this.#rows.length - this.#live;
  }

  add(chunk: IndexedChunk): number {
    const slot = this.#rows.length;
    const key = documentKey(chunk.tenant, chunk.collection, chunk.documentId);
    let document = this.#documents.get(key);
    if (document === undefined) {
      document = { versions: new Map(), latest: 0, keys: new Map() };
      this.#documents.set(key, document);
    }
    document.versions.set(chunk.version, (document.versions.get(chunk.version) ?? 0) + 1);
    document.latest = Math.max(document.latest, chunk.version);
    document.keys.set(chunk.key, chunk.version);
    // Occurrences per term id in a scratch array (zeroed again below), not a Map per row.
    let counts = this.#termCounts;
    const distinct: number[] = [];
    let length = 0;
    for (const word of words(chunk.searchText)) {
      // Each word's term id is remembered: most of a corpus's words were seen before.
      let id = this.#wordIds.get(word);
      if (id === undefined) {
        const term = termOf(word);
        id = term === null ? -1 : this.#termId(term);
        this.#wordIds.set(word, id);
        // A new term may have grown the scratch array.
        counts = this.#termCounts;
      }
      if (id < 0) continue;
      length += 1;
      if (counts[id] === 0) distinct.push(id);
      counts[id] = (counts[id] as number) + 1;
    }
    const { vector, searchText, ...stored } = chunk;
    void searchText;
    const row: Row = { chunk: stored, document, termsAt: this.#poolEnd, termCount: distinct.length };
    for (const term of distinct) this.#pool(term, Math.min(counts[term] as number, 0xffff));
    this.#rows.push(row);
    this.#grow(slot + 1);
    this.#lengths[slot] = length;
    this.#totalLength += length;
    this.#live += 1;
    for (const term of distinct) {
      this.#post(term, slot, Math.min(counts[term] as number, 0xffff));
      counts[term] = 0;
    }
    this.#vectors.set(slot, vector);
    return slot;
  }

  /** Re-adds a live row of another index (a rebuild): no analysis, the terms are known. */
  copyFrom(other: TenantIndex, slot: number): number {
    const row = other.#rows[slot] as Row;
    const target = this.#rows.length;
    this.#rows.push({ ...row, termsAt: this.#poolEnd });
    this.#grow(target + 1);
    const length = other.#lengths[slot] as number;
    this.#lengths[target] = length;
    this.#totalLength += length;
    this.#live += 1;
    for (let i = 0; i < row.termCount; i++) {
      const at = row.termsAt + 2 * i;
      const id = this.#termId(other.#terms[other.#termPool[at] as number] as string);
      const count = other.#termPool[at + 1] as number;
      this.#pool(id, count);
      this.#post(id, target, count);
    }
    this.#vectors.set(target, other.#vectors.get(slot));
    const { document, chunk } = row;
    // Documents are shared objects: the rebuilt index keeps the same ones.
    this.#documents.set(documentKey(chunk.tenant, chunk.collection, chunk.documentId), document);
    return target;
  }

  remove(slot: number): void {
    const row = this.#rows[slot];
    if (row === undefined) return;
    this.#rows[slot] = undefined;
    this.#live -= 1;
    this.#totalLength -= this.#lengths[slot] ?? 0;
    for (let i = 0; i < row.termCount; i++) {
      (this.#postings[this.#termPool[row.termsAt + 2 * i] as number] as Posting).live -= 1;
    }
    const { document, chunk } = row;
    document.keys.delete(chunk.key);
    const left = (document.versions.get(chunk.version) ?? 1) - 1;
    if (left > 0) document.versions.set(chunk.version, left);
    else document.versions.delete(chunk.version);
    if (document.versions.size === 0) {
      this.#documents.delete(documentKey(chunk.tenant, chunk.collection, chunk.documentId));
    } else if (chunk.version === document.latest && left === 0) {
      document.latest = Math.max(...document.versions.keys());
    }
  }

  /** The keys of a document's live rows, with their versions (a copy: the caller may remove them). */
  documentRows(tenant: string, collection: string, documentId: string): [string, number][] {
    return [...(this.#documents.get(documentKey(tenant, collection, documentId))?.keys ?? [])];
  }

  /** The live rows' keys and slots, for a rebuild. */
  *liveSlots(): Generator<[string, number]> {
    for (let slot = 0; slot < this.#rows.length; slot++) {
      const row = this.#rows[slot];
      if (row !== undefined) yield [row.chunk.key, slot];
    }
  }

  textCandidates(query: IndexQuery, accept: (slot: number) => boolean): SearchHit[] {
    const terms = [...new Set(analyzeText(query.text ?? ''))];
    if (terms.length === 0 || this.#live === 0) return [];
    const averageLength = this.#totalLength / this.#live;
    // BM25's length normalization, K1 * (1 - B + B * length / averageLength), split in two.
    const fixed = K1 * (1 - B);
    const perTerm = (K1 * B) / averageLength;
    const scores = this.#scores;
    const lengths = this.#lengths;
    const touched = this.#touched;
    let reached = 0;
    for (const term of terms) {
      const id = this.#termIds.get(term);
      const posting = id === undefined ? undefined : this.#postings[id];
      if (posting === undefined || posting.live === 0) continue;
      const idf = Math.log(1 + (this.#live - posting.live + 0.5) / (posting.live + 0.5));
      const scale = idf * (K1 + 1);
      const { slots, counts, size } = posting;
      for (let i = 0; i < size; i++) {
        const slot = slots[i] as number;
        const count = counts[i] as number;
        const prior = scores[slot] as number;
        if (prior === 0) touched[reached++] = slot;
        scores[slot] = prior + (scale * count) / (count + fixed + perTerm * (lengths[slot] as number));
      }
    }
    const best = new TopK(query.depth);
    for (let i = 0; i < reached; i++) {
      const slot = touched[i] as number;
      const score = scores[slot] as number;
      scores[slot] = 0;
      if (best.admits(score) && accept(slot)) best.push(slot, score);
    }
    return best.sorted().map(([slot, score]) => this.#hit(slot, 'text', score));
  }

  /** `undefined` when the query vector is too dense for this scan (LanceDB serves it). */
  vectorCandidates(query: IndexQuery, accept: (slot: number) => boolean): SearchHit[] | undefined {
    const vector = query.vector as Float32Array;
    const dimensions: number[] = [];
    let norm = 0;
    for (let d = 0; d < vector.length; d++) {
      const x = vector[d] as number;
      if (x !== 0) dimensions.push(d);
      norm += x * x;
    }
    if (dimensions.length > vector.length * MAX_QUERY_DENSITY) return undefined;
    if (norm === 0) return [];
    const inverseQueryNorm = 1 / Math.sqrt(norm);
    const best = new TopK(query.depth);
    const weights = dimensions.map((d) => vector[d] as number);
    // The score a row must beat to enter; read from the heap only when it changes.
    let floor = best.floor;
    this.#vectors.scan(
      dimensions,
      weights,
      this.#rows.length,
      () => pickThreshold(floor, inverseQueryNorm),
      (firstSlot, _rows, scores, inverseNorms, selected, count) => {
        for (let j = 0; j < count; j++) {
          const i = selected[j] as number;
          const slot = firstSlot + i;
          const score = (scores[i] as number) * (inverseNorms[i] as number) * inverseQueryNorm;
          if (score <= floor || !accept(slot)) continue;
          best.push(slot, score);
          floor = best.floor;
        }
      },
    );
    return best.sorted().map(([slot, score]) => this.#hit(slot, 'vector', score));
  }

  /**
   * Whether a slot may be a hit of this query: live, in scope, of its document's newest version
   * (a replacement seen between its commits to the main table and the delta), and matching the filter.
   */
  acceptor(query: IndexQuery): (slot: number) => boolean {
    const filter = query.filter === undefined ? [] : filterEntries(query.filter);
    return (slot) => {
      const row = this.#rows[slot];
      if (row === undefined) return false;
      const { chunk, document } = row;
      if (query.collection !== undefined && chunk.collection !== query.collection) return false;
      if (query.model !== undefined && chunk.model !== query.model) return false;
      if (chunk.version !== document.latest) return false;
      return filter.every((allowed) => allowed.some((entry) => chunk.metaKv.includes(entry)));
    };
  }

  #hit(slot: number, signal: SearchSignal, score: number): SearchHit {
    const { chunk } = this.#rows[slot] as Row;
    return {
      documentId: chunk.documentId,
      chunkId: chunk.chunkId,
      version: chunk.version,
      score,
      matched: [signal],
      scores: { [signal]: score },
      text: chunk.text,
      headingPath: chunk.headingPath,
      start: chunk.start,
      end: chunk.end,
      ...(chunk.page === undefined ? {} : { page: chunk.page }),
      metadata: chunk.metadata,
      collection: chunk.collection,
    };
  }

  #pool(term: number, count: number): void {
    if (this.#poolEnd + 2 > this.#termPool.length) {
      const pool = new Int32Array(this.#termPool.length * 2);
      pool.set(this.#termPool);
      this.#termPool = pool;
    }
    this.#termPool[this.#poolEnd++] = term;
    this.#termPool[this.#poolEnd++] = count;
  }

  #termId(term: string): number {
    let id = this.#termIds.get(term);
    if (id === undefined) {
      id = this.#terms.length;
      if (id >= this.#termCounts.length) {
        const grown = new Int32Array(this.#termCounts.length * 2);
        grown.set(this.#termCounts);
        this.#termCounts = grown;
      }
      this.#terms.push(term);
      this.#termIds.set(term, id);
      this.#postings.push({ slots: new Int32Array(4), counts: new Uint16Array(4), size: 0, live: 0 });
    }
    return id;
  }

  #post(term: number, slot: number, count: number): void {
    const posting = this.#postings[term] as Posting;
    if (posting.size === posting.slots.length) {
      const slots = new Int32Array(posting.size * 2);
      slots.set(posting.slots);
      const counts = new Uint16Array(posting.size * 2);
      counts.set(posting.counts);
      posting.slots = slots;
      posting.counts = counts;
    }
    posting.slots[posting.size] = slot;
    posting.counts[posting.size] = count;
    posting.size += 1;
    posting.live += 1;
  }

  #grow(size: number): void {
    if (size <= this.#lengths.length) return;
    const capacity = Math.max(size, this.#lengths.length * 2);
    const grown = (old: Float32Array<ArrayBuffer>): Float32Array<ArrayBuffer> => {
      const next = new Float32Array(capacity);
      next.set(old);
      return next;
    };
    this.#lengths = grown(this.#lengths);
    this.#scores = grown(this.#scores);
    const touched = new Int32Array(capacity);
    touched.set(this.#touched);
    this.#touched = touched;
  }
}

/**
 * The threshold for the vector scan's pick of a run's rows (see {@link VectorBlocks.scan}): a row
 * whose cosine would pass `floor` has a dot product times inverse norm above `floor` over the query's
 * inverse norm. The pick compares in 32-bit floats, the rows' scores are then computed in 64-bit:
 * the threshold is lowered by far more than the 32-bit rounding (2^-24 relative), so no row that
 * would enter is dropped, and the results are those of scoring every row.
 */
function pickThreshold(floor: number, inverseQueryNorm: number): number {
  const bar = floor / inverseQueryNorm;
  return Math.fround(bar - Math.abs(bar) * 2 ** -16);
}

/** Each filter key's accepted `meta_kv` entries: a row passes when it holds one of each key's. */
function filterEntries(filter: MetadataFilter): string[][] {
  return Object.entries(filter).map(([key, condition]) =>
    (Array.isArray(condition) ? condition : [condition]).map((value) => metadataEntry(key, value)),
  );
}

/** The k best (slot, score) pairs seen, by a min-heap on score. */
class TopK {
  readonly #k: number;
  readonly #slots: number[] = [];
  readonly #scores: number[] = [];

  constructor(k: number) {
    this.#k = k;
  }

  /** The score to beat: the worst kept once k are kept, else -Infinity. */
  get floor(): number {
    return this.#scores.length < this.#k ? -Infinity : (this.#scores[0] as number);
  }

  /** Whether a score would enter (checked before the costlier acceptance test). */
  admits(score: number): boolean {
    return this.#scores.length < this.#k || score > (this.#scores[0] as number);
  }

  push(slot: number, score: number): void {
    const slots = this.#slots;
    const scores = this.#scores;
    if (scores.length < this.#k) {
      slots.push(slot);
      scores.push(score);
      let i = scores.length - 1;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if ((scores[parent] as number) <= score) break;
        scores[i] = scores[parent] as number;
        slots[i] = slots[parent] as number;
        i = parent;
      }
      scores[i] = score;
      slots[i] = slot;
      return;
    }
    // Replace the root (the worst kept) and sift down.
    let i = 0;
    const n = scores.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && (scores[right] as number) < (scores[left] as number) ? right : left;
      if ((scores[child] as number) >= score) break;
      scores[i] = scores[child] as number;
      slots[i] = slots[child] as number;
      i = child;
    }
    scores[i] = score;
    slots[i] = slot;
  }

  /** Best first; equal scores in slot order (older rows first), so results are stable. */
  sorted(): [number, number][] {
    return this.#slots
      .map((slot, i): [number, number] => [slot, this.#scores[i] as number])
      .sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  }
}

/**
 * Every chunk of the store in memory, per tenant: BM25 over the same analysis as LanceDB's
 * full-text index, and exact cosine similarity over the vectors. Rows are added and removed by
 * their table keys (see {@link SearchMirror}); a tenant whose dead slots outnumber a third of its
 * slots is rebuilt from its live rows.
 */
export class MemoryIndex {
  readonly #dimension: number;
  readonly #tenants = new Map<string, TenantIndex>();
  /** Where each key lives: its tenant's index and slot. */
  readonly #slots = new Map<string, number>();

  constructor(dimension: number) {
    this.#dimension = dimension;
  }

  get dimension(): number {
    return this.#dimension;
  }

  get size(): number {
    return this.#slots.size;
  }

  has(key: string): boolean {
    return this.#slots.has(key);
  }

  add(chunk: IndexedChunk): void {
    if (this.#slots.has(chunk.key)) return;
    let tenant = this.#tenants.get(chunk.tenant);
    if (tenant === undefined) {
      tenant = new TenantIndex(this.#dimension);
      this.#tenants.set(chunk.tenant, tenant);
    }
    this.#slots.set(chunk.key, tenant.add(chunk));
  }

  /**
   * Removes every row of a document but those of version `keep` (0 removes them all): what a new
   * version or a delete left in the tables.
   */
  removeDocument(tenant: string, collection: string, documentId: string, keep: number): void {
    const index = this.#tenants.get(tenant);
    if (index === undefined) return;
    for (const [key, version] of index.documentRows(tenant, collection, documentId)) {
      if (version !== keep) this.remove(key, tenant);
    }
  }

  remove(key: string, tenant: string): void {
    const slot = this.#slots.get(key);
    const index = this.#tenants.get(tenant);
    if (slot === undefined || index === undefined) return;
    this.#slots.delete(key);
    index.remove(slot);
    if (index.live === 0) this.#tenants.delete(tenant);
  }

  /** Tenants whose dead slots pass a third of their slots (and 1,000): {@link compact} them. */
  wasteful(): string[] {
    return [...this.#tenants]
      .filter(([, index]) => index.dead > 1_000 && index.dead * 3 > index.live + index.dead)
      .map(([tenant]) => tenant);
  }

  /**
   * Rebuilds a tenant's index from its live rows, leaving the dead slots behind. Seconds of work
   * at 100k rows, so it runs in slices (`pause` between them, for the caller's other work);
   * searches use the old index, which stays valid, until the new one replaces it. Nothing may add
   * or remove rows meanwhile (the mirror runs it inside its one sync at a time).
   */
  async compact(tenant: string, pause: () => Promise<void>): Promise<void> {
    const old = this.#tenants.get(tenant);
    if (old === undefined) return;
    const index = new TenantIndex(this.#dimension);
    const moved = new Map<string, number>();
    let copied = 0;
    for (const [key, slot] of old.liveSlots()) {
      moved.set(key, index.copyFrom(old, slot));
      if (++copied % COMPACT_SLICE_ROWS === 0) await pause();
    }
    for (const [key, slot] of moved) this.#slots.set(key, slot);
    this.#tenants.set(tenant, index);
  }

  /**
   * A search's candidate lists, best first, at most `depth` each: text (BM25) when the query has
   * text, vector (cosine similarity) when it has a vector. `vector` is `undefined` when the query
   * vector is too dense for the in-memory scan, or of another length than the stored vectors.
   */
  search(query: IndexQuery): { text: SearchHit[]; vector: SearchHit[] | undefined } {
    if (query.vector !== undefined && query.vector.length !== this.#dimension) {
      return { text: [], vector: undefined };
    }
    const index = this.#tenants.get(query.tenant);
    if (index === undefined) return { text: [], vector: [] };
    const accept = index.acceptor(query);
    return {
      text: query.text === undefined ? [] : index.textCandidates(query, accept),
      vector: query.vector === undefined ? [] : index.vectorCandidates(query, accept),
    };
  }

  /**
   * A search's answer, its `topK` best hits (a hybrid search fuses its two lists), or `undefined`
   * where LanceDB must answer: the query vector does not suit the scan, or the vector side found
   * nothing for a usable vector (LanceDB's path then says whether the model was wrong).
   */
  answer(query: IndexQuery, mode: SearchMode, topK: number): SearchHit[] | undefined {
    const found = this.search(query);
    if (found.vector === undefined || (query.vector !== undefined && found.vector.length === 0)) {
      return undefined;
    }
    if (mode === 'vector') return found.vector;
    if (mode === 'text') return found.text;
    return fuseHits(found.text, found.vector, topK);
  }
}
