import { ACCUMULATE_WASM } from './accumulate-wasm.ts';

/** Rows per block. A multiple of 4: the kernel scores four rows at a time. */
export const BLOCK_ROWS = 1_024;

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
) => void;

/**
 * Vectors in WebAssembly memory, in blocks of {@link BLOCK_ROWS} rows stored by dimension, so that
 * a query vector with few non-zero dimensions (the built-in lexical embedder's) is scored against
 * every row by one pass per dimension it has, four rows per SIMD instruction (accumulate.wat).
 *
 * Memory layout: a scratch area (the block's scores, the query's dimensions and weights), then the
 * blocks, one after another; memory grows by whole blocks.
 */
export class VectorBlocks {
  readonly #dimension: number;
  readonly #memory: WebAssembly.Memory;
  readonly #accumulate: Accumulate;
  readonly #blockBytes: number;
  readonly #scoresAt = 0;
  readonly #dimsAt: number;
  readonly #weightsAt: number;
  readonly #blocksAt: number;
  #blocks = 0;
  // Views on the memory; remade whenever it grows (growing detaches the old buffer).
  #floats!: Float32Array;
  #ints!: Int32Array;

  constructor(dimension: number) {
    this.#dimension = dimension;
    this.#blockBytes = dimension * BLOCK_ROWS * 4;
    this.#dimsAt = BLOCK_ROWS * 4;
    this.#weightsAt = this.#dimsAt + dimension * 4;
    this.#blocksAt = Math.ceil((this.#weightsAt + dimension * 4) / 16) * 16;
    this.#memory = new WebAssembly.Memory({
      initial: Math.ceil(this.#blocksAt / PAGE_BYTES),
      maximum: MAX_PAGES,
    });
    const instance = new WebAssembly.Instance(module, { env: { memory: this.#memory } });
    this.#accumulate = instance.exports['accumulate'] as Accumulate;
    this.#views();
  }

  set(slot: number, vector: Float32Array): void {
    const block = Math.floor(slot / BLOCK_ROWS);
    while (this.#blocks <= block) this.#addBlock();
    const base = (this.#blocksAt + block * this.#blockBytes) / 4 + (slot % BLOCK_ROWS);
    const floats = this.#floats;
    for (let d = 0; d < this.#dimension; d++) floats[base + d * BLOCK_ROWS] = vector[d] ?? 0;
  }

  get(slot: number): Float32Array {
    const base =
      (this.#blocksAt + Math.floor(slot / BLOCK_ROWS) * this.#blockBytes) / 4 + (slot % BLOCK_ROWS);
    const vector = new Float32Array(this.#dimension);
    for (let d = 0; d < this.#dimension; d++) vector[d] = this.#floats[base + d * BLOCK_ROWS] as number;
    return vector;
  }

  /**
   * Scores the first `rows` slots against a query given as its non-zero dimensions and their
   * weights: for each block, `visit(firstSlot, scores, used)` gets the dot products of its rows
   * (valid until the next block).
   */
  scan(
    dimensions: readonly number[],
    weights: readonly number[],
    rows: number,
    visit: (firstSlot: number, scores: Float32Array, used: number) => void,
  ): void {
    this.#ints.set(dimensions, this.#dimsAt / 4);
    this.#floats.set(weights, this.#weightsAt / 4);
    const scores = this.#floats.subarray(this.#scoresAt / 4, this.#scoresAt / 4 + BLOCK_ROWS);
    for (let block = 0; block * BLOCK_ROWS < rows; block++) {
      scores.fill(0);
      this.#accumulate(
        this.#blocksAt + block * this.#blockBytes,
        BLOCK_ROWS,
        this.#scoresAt,
        this.#dimsAt,
        this.#weightsAt,
        dimensions.length,
      );
      visit(block * BLOCK_ROWS, scores, Math.min(BLOCK_ROWS, rows - block * BLOCK_ROWS));
    }
  }

  #addBlock(): void {
    const needed = this.#blocksAt + (this.#blocks + 1) * this.#blockBytes;
    const have = this.#memory.buffer.byteLength;
    // Grown by at least a quarter at a time, so appends stay amortized.
    if (needed > have) {
      const pages = Math.max(Math.ceil((needed - have) / PAGE_BYTES), Math.ceil(have / 4 / PAGE_BYTES));
      this.#memory.grow(pages);
      this.#views();
    }
    this.#blocks += 1;
  }

  #views(): void {
    this.#floats = new Float32Array(this.#memory.buffer);
    this.#ints = new Int32Array(this.#memory.buffer);
  }
}
