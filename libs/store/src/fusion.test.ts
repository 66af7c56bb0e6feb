import { describe, expect, it } from 'vitest';
import { fuseHits } from './fusion.ts';
import type { SearchHit, SearchSignal } from './types.ts';

function hit(chunkId: string, signal: SearchSignal, score: number): SearchHit {
  return {
    documentId: chunkId.split(':')[0] ?? chunkId,
    chunkId,
    version: 1,
    score,
    matched: [signal],
    scores: { [signal]: score },
    text: chunkId,
    headingPath: [],
    start: 0,
    end: 1,
    metadata: {},
    collection: 'c',
  };
}

describe('fuseHits', () => {
  it('combines min-max normalized scores, weighting the text signal', () => {
    const text = [hit('a', 'text', 9), hit('b', 'text', 5), hit('c', 'text', 1)];
    const vector = [hit('c', 'vector', 0.9), hit('b', 'vector', 0.5), hit('d', 'vector', 0.1)];
    const fused = fuseHits(text, vector, 10, 0.75);
    expect(fused.map((h) => [h.chunkId, h.score])).toEqual([
      ['a', 0.75],
      ['b', 0.375 + 0.125],
      ['c', 0.25],
      ['d', 0],
    ]);
    expect(fused.find((h) => h.chunkId === 'b')).toMatchObject({
      matched: ['text', 'vector'],
      scores: { text: 5, vector: 0.5 },
    });
    expect(fused.find((h) => h.chunkId === 'd')?.matched).toEqual(['vector']);
  });

  it('cuts to topK, keeps the text order on ties and copes with one-element lists', () => {
    const fused = fuseHits([hit('a', 'text', 3), hit('b', 'text', 3)], [hit('c', 'vector', 0.2)], 2, 0.5);
    expect(fused.map((h) => h.chunkId)).toEqual(['a', 'b']);
    expect(fused.every((h) => h.score === 0.5)).toBe(true);
    expect(fuseHits([], [], 5)).toEqual([]);
  });
});
