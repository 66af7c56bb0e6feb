import { describe, expect, it } from 'vitest';
import { ACCUMULATE_WASM } from './accumulate-wasm.ts';
import { compileAccumulate } from '../../simd/build.ts';
import { BLOCK_ROWS, VectorBlocks } from './vector-blocks.ts';

describe('the SIMD vector scan', () => {
  it('ships the bytes accumulate.wat compiles to', async () => {
    expect(Buffer.from(await compileAccumulate()).toString('base64')).toBe(ACCUMULATE_WASM);
  });

  it('gives every row the dot product a plain loop gives, across blocks and memory growth', () => {
    const dimension = 24;
    const rows = BLOCK_ROWS * 2 + 37;
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
    expect(blocks.get(BLOCK_ROWS + 5)).toEqual(stored[BLOCK_ROWS + 5]);
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
      const seen = new Map<number, number>();
      blocks.scan(dimensions, weights, rows, (firstSlot, scores, used) => {
        for (let i = 0; i < used; i++) seen.set(firstSlot + i, scores[i] as number);
      });
      expect(seen.size).toBe(rows);
      for (const [slot, score] of seen) {
        const vector = stored[slot] as Float32Array;
        const expected = dimensions.reduce(
          (sum, d, k) => sum + (weights[k] as number) * (vector[d] as number),
          0,
        );
        expect(score).toBeCloseTo(expected, 4);
      }
    }
  });
});
