import { describe, expect, it } from 'vitest';
import { documentRanking, ndcgAt, recallAt } from './metrics.ts';

describe('retrieval metrics', () => {
  it('gives 1 for the ideal ranking and less for a worse one', () => {
    const judged = new Map([
      ['a', 3],
      ['b', 1],
    ]);
    expect(ndcgAt(10, ['a', 'b', 'x'], judged)).toBeCloseTo(1, 10);
    // b first: (1 + 7/log2(3)) / (7 + 1/log2(3))
    const expected = (1 + 7 / Math.log2(3)) / (7 + 1 / Math.log2(3));
    expect(ndcgAt(10, ['b', 'a'], judged)).toBeCloseTo(expected, 10);
    expect(ndcgAt(10, ['x', 'y'], judged)).toBe(0);
    // Judged documents past k count in the ideal, not in the ranking.
    expect(ndcgAt(1, ['b', 'a'], judged)).toBeCloseTo(1 / 7, 10);
  });

  it('counts recall over relevant documents only', () => {
    const judged = new Map([
      ['a', 1],
      ['b', 2],
      ['c', 0],
    ]);
    expect(recallAt(10, ['a', 'c', 'x'], judged)).toBe(0.5);
    expect(recallAt(1, ['x', 'a', 'b'], judged)).toBe(0);
    expect(recallAt(10, ['a'], new Map())).toBe(0);
  });

  it('ranks documents by their best chunk', () => {
    expect(documentRanking(['d1', 'd2', 'd1', 'd3', 'd2'])).toEqual(['d1', 'd2', 'd3']);
  });
});
