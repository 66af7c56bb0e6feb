import { describe, expect, it } from 'vitest';
import { ACCUMULATE_WASM } from './accumulate-wasm.ts';
import { compileAccumulate } from '../../simd/build.ts';
import { BLOCK_ROWS, VectorBlocks } from './vector-blocks.ts';

describe('the SIMD vector scan', () => {
  it('ships the bytes accumulate.wat compiles to', async () => {
    expect(Buffer.from(await compileAccumulate()).toString('base64')).toBe(ACCUMULATE_WASM);
  });

  it('gives every row the dot product a plain loop gives, and picks the rows over a threshold, across segments and memory growth', () => {
    const dimension = 24;
    // Segments of 1,024, 2,048, 4,096 and 8,192 rows, the last partly filled: five runs of rows
    // (a segment's rows are scored 4,096 at a time).
    const rows = BLOCK_ROWS * 11 + 37;
    const blocks = new VectorBlocks(dimension);
    const stored: Float32Array[] = [];
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648 - 0.5;
    };
    for (let slot = 0; slot < rows; slot++) {
      const vector = Float32Array.from({ length: dimension }, () => (random() > 0.2 ? random() : 0));
      stored.push(vector);
      blocks.set(slot, vector);
    }
    for (const slot of [5, BLOCK_ROWS + 5, rows - 1]) expect(blocks.get(slot)).toEqual(stored[slot]);
    // The kernel adds eight dimensions per pass, then the rest one at a time: queries of fewer
    // than eight, exactly eight, eight and a rest, and every dimension.
    const queries = [
      [0, 3, 4, 11, 23],
      [1, 2, 5, 8, 9, 13, 17, 22],
      [0, 2, 3, 6, 7, 10, 12, 14, 15, 18, 19, 21, 23],
      Array.from({ length: dimension }, (_, d) => d),
    ];
    for (const dimensions of queries) {
      const weights = dimensions.map(() => random() * 4);
      const dot = (slot: number) =>
        dimensions.reduce(
          (sum, d, k) => sum + (weights[k] as number) * ((stored[slot] as Float32Array)[d] as number),
          0,
        );
      const norm = (slot: number) => Math.hypot(...(stored[slot] as Float32Array));
      // -Infinity picks every row.
      const seen = new Map<number, number>();
      blocks.scan(
        dimensions,
        weights,
        rows,
        () => -Infinity,
        (firstSlot, _rows, scores, norms, selected, count) => {
          for (let j = 0; j < count; j++) {
            const i = selected[j] as number;
            seen.set(firstSlot + i, scores[i] as number);
            expect(norms[i]).toBeCloseTo(1 / norm(firstSlot + i), 5);
          }
        },
      );
      expect(seen.size).toBe(rows);
      for (const [slot, score] of seen) expect(score).toBeCloseTo(dot(slot), 4);
      // A threshold picks the rows whose cosine times the query's norm passes it, and no others;
      // it may change from one run of rows to the next.
      const thresholds = [0.2, -0.1, 0.5];
      const picked: number[] = [];
      const applied = new Map<number, number>();
      let runs = 0;
      let current = 0;
      blocks.scan(
        dimensions,
        weights,
        rows,
        () => (current = thresholds[runs++ % thresholds.length] as number),
        (firstSlot, length, _scores, _norms, selected, count) => {
          for (let i = 0; i < length; i++) applied.set(firstSlot + i, current);
          for (let j = 0; j < count; j++) picked.push(firstSlot + (selected[j] as number));
        },
      );
      expect(applied.size).toBe(rows);
      expect(runs).toBe(5);
      const expected = Array.from({ length: rows }, (_, slot) => slot).filter((slot) => {
        const cosineTimesQueryNorm = dot(slot) / norm(slot);
        const bar = applied.get(slot) as number;
        // Rows within float rounding of the threshold may go either way.
        return Math.abs(cosineTimesQueryNorm - bar) < 1e-4
          ? picked.includes(slot)
          : cosineTimesQueryNorm > bar;
      });
      expect(picked).toEqual(expected);
    }
  });
});
