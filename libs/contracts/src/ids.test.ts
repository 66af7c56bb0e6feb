import { describe, expect, it } from 'vitest';
import { contentHash, ingestFingerprint, type IngestShape } from './ids.ts';

const body = contentHash('Harbour log. The pilot boat went out at six.');
const shape: IngestShape = {
  mediaType: 'text/plain',
  metadata: { lang: 'en', port: 'north' },
  chunking: { maxChars: 1200, overlapChars: 150 },
};

describe('ingestFingerprint', () => {
  it('is the same for the same ingest, whatever the order of the metadata keys', () => {
    expect(ingestFingerprint(body, shape)).toBe(
      ingestFingerprint(body, { ...shape, metadata: { port: 'north', lang: 'en' } }),
    );
  });

  it('changes with everything that changes what is stored', () => {
    const base = ingestFingerprint(body, shape);
    const variants: IngestShape[] = [
      { ...shape, metadata: { lang: 'de', port: 'north' } },
      { ...shape, metadata: { lang: 'en' } },
      { ...shape, metadata: { lang: 'en', port: 'north', extra: true } },
      { ...shape, title: 'Pilot boat log' },
      { ...shape, mediaType: 'text/markdown' },
      { ...shape, chunking: { maxChars: 600, overlapChars: 150 } },
      { ...shape, chunking: { maxChars: 1200, overlapChars: 0 } },
    ];
    const prints = variants.map((variant) => ingestFingerprint(body, variant));
    expect(new Set([base, ...prints]).size).toBe(variants.length + 1);
    expect(ingestFingerprint(contentHash('Another text.'), shape)).not.toBe(base);
  });

  it('tells a value from its type and a title from none', () => {
    expect(ingestFingerprint(body, { ...shape, metadata: { n: 1 } })).not.toBe(
      ingestFingerprint(body, { ...shape, metadata: { n: '1' } }),
    );
    expect(ingestFingerprint(body, { ...shape, title: 'null' })).not.toBe(ingestFingerprint(body, shape));
  });
});
