import { describe, expect, it } from 'vitest';
import { createBuiltinEmbedder, stem } from './builtin.ts';

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += (a[i] ?? 0) * (b[i] ?? 0);
  return dot;
}

function norm(vector: Float32Array): number {
  return Math.sqrt(cosine(vector, vector));
}

describe('createBuiltinEmbedder', () => {
  const embedder = createBuiltinEmbedder();

  it('names the algorithm and its size in the model id', () => {
    expect(embedder.model).toBe('hopper-hashing-v1-384');
    expect(embedder.dimensions).toBe(384);
    const small = createBuiltinEmbedder({ dimensions: 64 });
    expect(small.model).toBe('hopper-hashing-v1-64');
    expect(small.embedOne('heat transfer')).toHaveLength(64);
  });

  it('rejects a dimension count that is not a positive integer', () => {
    expect(() => createBuiltinEmbedder({ dimensions: 0 })).toThrow(RangeError);
    expect(() => createBuiltinEmbedder({ dimensions: 1.5 })).toThrow(RangeError);
  });

  it('is deterministic across calls and instances', () => {
    const text = 'Supersonic flow over a flat plate with heat transfer.';
    const first = embedder.embedOne(text);
    embedder.embedOne('something else entirely, to disturb any reused state');
    expect(embedder.embedOne(text)).toEqual(first);
    expect(createBuiltinEmbedder().embedOne(text)).toEqual(first);
  });

  it('keeps producing the vectors stored under hopper-hashing-v1', () => {
    // Stored vectors are only comparable with new ones while the algorithm is unchanged; if this
    // fails on purpose, bump the model id so old indexes are rebuilt instead of silently mixed.
    const vector = embedder.embedOne('Boundary layer transition on swept wings');
    expect(vector.filter((value) => value !== 0)).toHaveLength(25);
    expect(vector[157]).toBeCloseTo(-0.3913, 4);
    expect(vector[199]).toBeCloseTo(-0.3913, 4);
    expect(vector[230]).toBeCloseTo(-0.3913, 4);
    expect(vector[265]).toBeCloseTo(0.3913, 4);
  });

  it('returns unit-length vectors', () => {
    for (const text of [
      'wing',
      'The effect of Mach number on the drag of slender bodies.',
      'x '.repeat(5000),
    ]) {
      expect(norm(embedder.embedOne(text))).toBeCloseTo(1, 5);
    }
  });

  it('returns the zero vector, never NaN, for text without terms', () => {
    for (const text of ['', '   ', '!!! ... ---', 'the of and to in']) {
      const vector = embedder.embedOne(text);
      expect(vector).toHaveLength(384);
      expect(vector.every((value) => value === 0)).toBe(true);
    }
  });

  it('places related texts closer than unrelated ones', () => {
    const query = embedder.embedOne('heat transfer in hypersonic boundary layers');
    const related = embedder.embedOne(
      'Measurements of heat transfer rates through a turbulent boundary layer at hypersonic speeds.',
    );
    const unrelated = embedder.embedOne(
      'Vitamin D supplementation reduces the risk of respiratory infections in children.',
    );
    expect(cosine(query, related)).toBeGreaterThan(0.3);
    expect(cosine(query, related)).toBeGreaterThan(cosine(query, unrelated) + 0.2);
  });

  it('matches inflected forms of the same word', () => {
    expect(stem('documents')).toBe(stem('document'));
    expect(stem('indexing')).toBe(stem('indexed'));
    expect(stem('studies')).toBe(stem('study'));
    expect(stem('boxes')).toBe(stem('box'));
    expect(stem('computing')).toBe(stem('compute'));
    expect(stem('stopped')).toBe(stem('stop'));
    expect(stem('rapidly')).toBe(stem('rapid'));
    // Not every word ending in -s or -ly is an inflection.
    expect(stem('analysis')).toBe('analysis');
    expect(stem('apply')).toBe('apply');

    expect(cosine(embedder.embedOne('documents'), embedder.embedOne('document'))).toBeGreaterThan(0.8);
    const plural = embedder.embedOne('indexing scanned documents');
    const singular = embedder.embedOne('an indexed scanned document');
    expect(cosine(plural, singular)).toBeGreaterThan(0.8);
  });

  it('folds case, compatibility forms and non-Latin scripts', () => {
    expect(embedder.embedOne('ÄRZTE Größe')).toEqual(embedder.embedOne('ärzte größe'));
    // U+FB01 LATIN SMALL LIGATURE FI, as PDF extraction often produces it.
    expect(embedder.embedOne('\ufb01nite element')).toEqual(embedder.embedOne('finite element'));
    const greek = embedder.embedOne('αεροδυναμική πτέρυγα');
    expect(norm(greek)).toBeCloseTo(1, 5);
    expect(cosine(greek, embedder.embedOne('πτέρυγα'))).toBeGreaterThan(0.3);
  });

  it('splits words at anything but letters, digits and the marks after them, in any script', () => {
    // Each text against its words written out: a lone surrogate or an emoji splits a word, a
    // combining mark does not, a letter outside the basic plane is a letter.
    const cases: [string, string][] = [
      ['ab\ud800cd ef', 'ab cd ef'],
      ['ab\udc00cd', 'ab cd'],
      ['heat\u{1F600}transfer', 'heat transfer'],
      ['\u0301wing', 'wing'],
      ['nai\u0308ve flow', 'na\u00efve flow'],
      ['\u{1D400}BC lift', '\u{1D400}bc lift'],
      ['東京タワー, 2024!', '東京タワー 2024'],
    ];
    for (const [text, words] of cases) expect(embedder.embedOne(text)).toEqual(embedder.embedOne(words));
    expect(embedder.embedOne('heat\u{1F600}transfer')).not.toEqual(embedder.embedOne('heattransfer'));
  });

  it('embeds a batch in order and honours an aborted signal', async () => {
    const texts = ['first text', 'second text', ''];
    const vectors = await embedder.embed(texts);
    expect(vectors).toEqual(texts.map((text) => embedder.embedOne(text)));

    const controller = new AbortController();
    const reason = new Error('stopped by caller');
    controller.abort(reason);
    await expect(embedder.embed(texts, { signal: controller.signal })).rejects.toBe(reason);
  });
});
