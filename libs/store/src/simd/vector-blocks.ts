import { ACCUMULATE_WASM } from './accumulate-wasm.ts';

/** Rows of the first segment, and the unit the index grows its own per-row arrays by. */
export const BLOCK_ROWS = 1_024;
/** Segments double from {@link BLOCK_ROWS} rows up to this many. */
const MAX_SEGMENT_ROWS = 16_384;
/**
 * Rows scored per kernel call (their scores then fit in the first-level cache). The scan's cost is
 * as much in starting each column as in reading it: with columns of up to 16,384 rows read 4,096
 * at a time, the vector side of a search over 104,652 SciFact chunks took 1.6-1.7 ms where blocks
 * of 1,024 rows took 2.2-2.4 (a throwaway probe, SciFact's queries).
 */
const SPAN_ROWS = 4_096;

const PAGE_BYTES = 65_536;
const MAX_PAGES = 65_536;
const module = new WebAssembly.Module(Buffer.from(ACCUMULATE_WASM, 'base64'));

type Accumulate = (
  values: number,
  rows: number,
  out: number,
  dims: number,
  weights: number,
  count: number,
  stride: number,
) => void;
type Select = (scores: number, norms: number, rows: number, threshold: number, out: number) => number;

/**
 * What a scan hands on per run of rows: the run's first slot and length, its rows' dot products and
 * inverse norms (by place in the run), and the places of the rows that passed the threshold, in
 * order (valid until the next run).
 */
export type RunVisit = (
  firstSlot: number,
  rows: number,
  scores: Float32Array,
  inverseNorms: Float32Array,
  selected: Int32Array,
  count: number,
) => void;

/** Rows stored together: a column per dimension and one of inverse norms, each `capacity` long. */
interface Segment {
  /** Byte offset in memory. */
  at: number;
  firstSlot: number;
  capacity: number;
}

/**
 * Vectors in WebAssembly memory stored by dimension, so that a query vector with few non-zero
 * dimensions (the built-in lexical embedder's) is scored against every row by one pass per
 * dimension it has, four rows per SIMD instruction (accumulate.wat). After each run of rows, the
 * rows whose cosine can still enter the caller's results are picked out in WebAssembly too, so the
 * caller looks at those rows only.
 *
 * Memory layout: a scratch area (a run's scores, the query's dimensions and weights, the places
 * picked), then segments of rows, one after another, doubling in size up to
 * {@link MAX_SEGMENT_ROWS} rows: each a column per dimension, then a column of the rows' inverse
 * norms. Long columns make a fast scan; small first segments keep a small index small.
 */
export class VectorBlocks {
  readonly #dimension: number;
  readonly #memory: WebAssembly.Memory;
  readonly #accumulate: Accumulate;
  readonly #select: Select;
  readonly #scoresAt = 0;
  readonly #dimsAt: number;
  readonly #weightsAt: number;
  readonly #selectedAt: number;
  readonly #segmentsAt: number;
  readonly #segments: Segment[] = [];
  // Views on the memory; remade whenever it grows (growing detaches the old buffer).
  #floats!: Float32Array;
  #ints!: Int32Array;

  constructor(dimension: number) {
    this.#dimension = dimension;
    this.#dimsAt = SPAN_ROWS * 4;
    this.#weightsAt = this.#dimsAt + dimension * 4;
    this.#selectedAt = this.#weightsAt + dimension * 4;
    this.#segmentsAt = Math.ceil((this.#selectedAt + SPAN_ROWS * 4) / 16) * 16;
    this.#memory = new WebAssembly.Memory({
      initial: Math.ceil(this.#segmentsAt / PAGE_BYTES),
      maximum: MAX_PAGES,
    });
    const instance = new WebAssembly.Instance(module, { env: { memory: this.#memory } });
    this.#accumulate = instance.exports['accumulate'] as Accumulate;
    this.#select = instance.exports['select'] as Select;
    this.#views();
  }

  /** Stores a row's vector, and its inverse norm (0 for a vector of zeros). */
  set(slot: number, vector: Float32Array): void {
    const { base, stride } = this.#place(slot, true);
    const floats = this.#floats;
    let norm = 0;
    for (let d = 0; d < this.#dimension; d++) {
      const x = vector[d] ?? 0;
      floats[base + d * stride] = x;
      norm += x * x;
    }
    floats[base + this.#dimension * stride] = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  }

  get(slot: number): Float32Array {
    const { base, stride } = this.#place(slot, false);
    const vector = new Float32Array(this.#dimension);
    for (let d = 0; d < this.#dimension; d++) vector[d] = this.#floats[base + d * stride] as number;
    return vector;
  }

  /**
   * Scores the first `rows` slots against a query given as its non-zero dimensions and their
   * weights. For each run of rows, `visit` gets the places of the rows whose dot product times
   * their inverse norm, in 32-bit floats, exceeds `threshold()` (asked once per run; -Infinity
   * picks every row). The comparison is in 32-bit floats: a caller that keeps rows by a score
   * computed otherwise lowers the threshold by more than that rounding (see `MemoryIndex`).
   */
  scan(
    dimensions: readonly number[],
    weights: readonly number[],
    rows: number,
    threshold: () => number,
    visit: RunVisit,
  ): void {
    this.#ints.set(dimensions, this.#dimsAt / 4);
    this.#floats.set(weights, this.#weightsAt / 4);
    const scores = this.#floats.subarray(this.#scoresAt / 4, this.#scoresAt / 4 + SPAN_ROWS);
    const selected = this.#ints.subarray(this.#selectedAt / 4, this.#selectedAt / 4 + SPAN_ROWS);
    for (const { at, firstSlot, capacity } of this.#segments) {
      if (firstSlot >= rows) break;
      const used = Math.min(capacity, rows - firstSlot);
      const stride = capacity * 4;
      for (let start = 0; start < used; start += SPAN_ROWS) {
        const length = Math.min(SPAN_ROWS, used - start);
        // The kernels take four rows at a time (a segment's capacity is a multiple of four); the
        // places past the rows in use are dropped.
        const taken = Math.ceil(length / 4) * 4;
        const normsAt = at + this.#dimension * stride + start * 4;
        scores.fill(0, 0, taken);
        this.#accumulate(
          at + start * 4,
          taken,
          this.#scoresAt,
          this.#dimsAt,
          this.#weightsAt,
          dimensions.length,
          stride,
        );
        let count = this.#select(this.#scoresAt, normsAt, taken, threshold(), this.#selectedAt);
        while (count > 0 && (selected[count - 1] as number) >= length) count--;
        const inverseNorms = this.#floats.subarray(normsAt / 4, normsAt / 4 + length);
        visit(firstSlot + start, length, scores, inverseNorms, selected, count);
      }
    }
  }

  /** Where a slot's dimension 0 is (in floats), and how far apart its dimensions are. */
  #place(slot: number, grow: boolean): { base: number; stride: number } {
    for (;;) {
      for (let i = this.#segments.length - 1; i >= 0; i--) {
        const segment = this.#segments[i] as Segment;
        if (slot >= segment.firstSlot + segment.capacity) break;
        if (slot >= segment.firstSlot) {
          return { base: segment.at / 4 + (slot - segment.firstSlot), stride: segment.capacity };
        }
      }
      if (!grow) throw new RangeError(`No vector is stored at slot ${slot}`);
      this.#addSegment();
    }
  }

  #addSegment(): void {
    const last = this.#segments.at(-1);
    const capacity = last === undefined ? BLOCK_ROWS : Math.min(MAX_SEGMENT_ROWS, last.capacity * 2);
    const at = last === undefined ? this.#segmentsAt : last.at + (this.#dimension + 1) * last.capacity * 4;
    const needed = at + (this.#dimension + 1) * capacity * 4;
    const have = this.#memory.buffer.byteLength;
    // Grown by at least a quarter at a time, so appends stay amortized.
    if (needed > have) {
      const pages = Math.max(Math.ceil((needed - have) / PAGE_BYTES), Math.ceil(have / 4 / PAGE_BYTES));
      this.#memory.grow(pages);
      this.#views();
    }
    this.#segments.push({ at, firstSlot: last === undefined ? 0 : last.firstSlot + last.capacity, capacity });
  }

  #views(): void {
    this.#floats = new Float32Array(this.#memory.buffer);
    this.#ints = new Int32Array(this.#memory.buffer);
  }
}
