import { describe, expect, it } from 'vitest';
import { analyzeText, words } from './text-analysis.ts';

describe('text analysis for the in-memory full-text index', () => {
  it('splits words as a letters-and-digits pattern does, outside ASCII too', () => {
    const texts = [
      'The keepers trimmed the wicks: 3 times, at 21:00!',
      'Café au lait — naïve façade; Übergröße 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛 日本語テキスト',
      "it's a keeper's log\u00a0(1890–1901) ✓ ok",
      '',
    ];
    for (const text of texts) {
      const expected = [...text.matchAll(/[\p{L}\p{N}]+/gu)].map((match) => match[0].toLowerCase());
      expect(words(text)).toEqual(expected);
    }
  });

  it('drops stop words and long tokens, stems, and folds to ASCII', () => {
    expect(analyzeText('The keepers were trimming THE wicks of lamps')).toEqual([
      'keeper',
      'trim',
      'wick',
      'lamp',
    ]);
    expect(analyzeText('Café façades')).toEqual(['cafe', 'facad']);
    expect(analyzeText(`hash ${'a'.repeat(40)} end`)).toEqual(['hash', 'end']);
  });
});
