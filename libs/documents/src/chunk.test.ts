import { describe, expect, it } from 'vitest';
import { chunkDocument, chunkEmbeddingText } from './chunk.ts';
import type { Chunk } from './chunk.ts';
import type { ParsedDocument } from './document.ts';
import { parseDocument } from './parse.ts';

const isSpace = (char: string | undefined): boolean => char === undefined || /\s/.test(char);

/** Deterministic pseudo-random prose with headings, paragraphs, lists and the odd long word. */
function generatedMarkdown(seed: number, paragraphs: number): string {
  let state = seed;
  const random = (n: number): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
  const word = (): string =>
    'abcdefghijklmnopqrstuvwxyz'.slice(random(20), 21 + random(6)).repeat(1 + random(2));
  const sentence = (): string => {
    const words = Array.from({ length: 3 + random(25) }, word);
    return `${words.join(' ')}${['.', '!', '?', '."', ','][random(5)]}`;
  };
  const blocks: string[] = [];
  for (let p = 0; p < paragraphs; p++) {
    const kind = random(10);
    if (kind === 0) blocks.push(`${'#'.repeat(1 + random(3))} ${word()} ${word()}`);
    else if (kind === 1)
      blocks.push(Array.from({ length: 2 + random(5) }, () => `- ${sentence()}`).join('\n'));
    else if (kind === 2) blocks.push(`${sentence()} ${'x'.repeat(50 + random(400))} ${sentence()}`);
    else blocks.push(Array.from({ length: 1 + random(12) }, sentence).join(random(4) === 0 ? '\n' : ' '));
  }
  return blocks.join(random(2) === 0 ? '\n\n' : '\n\n\n');
}

/**
 * The guarantees a caller relies on, checked for every chunk. Violations are collected and
 * compared once, so a failure lists them all and a megabyte of text checks quickly.
 */
function expectWellFormed(
  doc: ParsedDocument,
  chunks: Chunk[],
  maxChars: number,
  overlapChars: number,
): void {
  const { text } = doc;
  const problems: string[] = [];
  const covered = new Uint8Array(text.length);
  let sectionIndex = 0;
  const packed = new Set<number>();
  chunks.forEach((chunk, i) => {
    const report = (problem: string): void =>
      void problems.push(`chunk ${i} [${chunk.start}, ${chunk.end}): ${problem}`);
    if (chunk.index !== i) report(`index is ${chunk.index}`);
    if (chunk.text !== text.slice(chunk.start, chunk.end)) report('text does not match its offsets');
    if (chunk.text.length === 0 || chunk.text.length > maxChars) report(`length ${chunk.text.length}`);
    if (chunk.text !== chunk.text.trim()) report('not trimmed');
    // Starts and ends on a word boundary, unless the word there is too long for any chunk.
    for (const cut of [chunk.start, chunk.end]) {
      if (!isSpace(text[cut - 1]) && !isSpace(text[cut]) && wordLengthAround(text, cut) <= maxChars) {
        report(`cuts a word at ${cut}`);
      }
    }
    // Inside one section, carrying its path. Chunks come in section order.
    while ((doc.sections[sectionIndex]?.end ?? Infinity) < chunk.end) sectionIndex++;
    const section = doc.sections[sectionIndex];
    let first = sectionIndex;
    while (first > 0 && (doc.sections[first]?.start ?? 0) > chunk.start) first--;
    const run = doc.sections.slice(first, sectionIndex + 1);
    if (section === undefined || chunk.start < (run[0]?.start ?? 0) || chunk.end > section.end)
      report('spans sections');
    else if (run.length > 1) {
      // Tiny sections packed together: each is packable, and the path is what they share.
      if (run[0]?.start !== chunk.start || !run.every((s) => s.packable === true)) report('spans sections');
      else if (!run.every((s) => chunk.headingPath.every((heading, h) => s.headingPath[h] === heading)))
        report('wrong heading path for packed sections');
    } else if (chunk.headingPath.join('\0') !== section.headingPath.join('\0')) report('wrong heading path');
    covered.fill(1, chunk.start, chunk.end);

    const previous = chunks[i - 1];
    if (run.length > 1) packed.add(i);
    if (packed.has(i) || packed.has(i - 1)) return;
    if (previous === undefined || previous.headingPath.join('\0') !== chunk.headingPath.join('\0')) return;
    if (chunk.start <= previous.start || chunk.end <= previous.end) report('does not move forward');
    if (chunk.start < previous.end - overlapChars) report('overlaps more than overlapChars');
    // Overlap may only be missing when no word boundary allowed it: the previous chunk is one
    // word or ends in a word longer than the overlap, or a word too long to share a chunk follows.
    const overlapPossible =
      overlapChars > 0 &&
      /\s/.test(previous.text) &&
      wordLengthAround(text, previous.end - 1) < overlapChars &&
      wordLengthAround(text, nextNonSpace(text, previous.end)) < maxChars / 2;
    if (overlapPossible && chunk.start >= previous.end) report('no overlap with the previous chunk');
  });
  const uncovered = covered.findIndex((flag, i) => flag === 0 && !isSpace(text[i]));
  if (uncovered !== -1) problems.push(`character at ${uncovered} is in no chunk`);
  expect(problems).toEqual([]);
}

function nextNonSpace(text: string, from: number): number {
  let i = from;
  while (i < text.length && isSpace(text[i])) i++;
  return i;
}

function wordLengthAround(text: string, offset: number): number {
  let start = offset;
  let end = offset;
  while (start > 0 && !isSpace(text[start - 1])) start--;
  while (end < text.length && !isSpace(text[end])) end++;
  return end - start;
}

describe('chunkDocument', () => {
  it('keeps the invariants over varied generated documents and options', async () => {
    for (const seed of [1, 2, 3, 42, 1234]) {
      const doc = await parseDocument({ content: generatedMarkdown(seed, 120), mediaType: 'text/markdown' });
      for (const [maxChars, overlapChars] of [
        [1200, 150],
        [500, 0],
        [500, 200],
        [200, 60],
      ] as const) {
        expectWellFormed(doc, chunkDocument(doc, { maxChars, overlapChars }), maxChars, overlapChars);
      }
    }
  });

  it('keeps the invariants over a megabyte of text', async () => {
    const doc = await parseDocument({ content: generatedMarkdown(7, 6000), mediaType: 'text/markdown' });
    expect(doc.text.length).toBeGreaterThan(1_000_000);
    expectWellFormed(doc, chunkDocument(doc), 1200, 150);
  });

  it('packs small paragraphs together up to maxChars', async () => {
    const paragraphs = Array.from({ length: 10 }, (_, i) => `Paragraph ${i} is short.`);
    const doc = await parseDocument({ content: paragraphs.join('\n\n') });
    expect(chunkDocument(doc).map((c) => c.text)).toEqual([paragraphs.join('\n\n')]);
  });

  it('cuts at paragraph breaks before sentence ends', async () => {
    const paragraph = (n: number): string =>
      Array.from({ length: 4 }, (_, i) => `P${n} sentence ${i}.`).join(' ');
    const doc = await parseDocument({ content: [1, 2, 3, 4, 5].map(paragraph).join('\n\n') });
    const chunks = chunkDocument(doc, { maxChars: 150, overlapChars: 0 });
    expect(chunks.map((c) => c.text)).toEqual([
      `${paragraph(1)}\n\n${paragraph(2)}`,
      `${paragraph(3)}\n\n${paragraph(4)}`,
      paragraph(5),
    ]);
  });

  it('cuts a long paragraph at sentence ends, with overlap starting on a word', async () => {
    const sentences = Array.from({ length: 60 }, (_, i) => `Sentence number ${i} says something useful.`);
    const doc = await parseDocument({ content: sentences.join(' ') });
    const chunks = chunkDocument(doc, { maxChars: 300, overlapChars: 80 });
    expect(chunks.length).toBeGreaterThan(5);
    for (const chunk of chunks) expect(chunk.text.endsWith('.')).toBe(true);
    for (let i = 1; i < chunks.length; i++) {
      const [previous, current] = [chunks[i - 1], chunks[i]];
      // The overlap is real: the current chunk begins with the tail of the previous one.
      expect(current!.start).toBeLessThan(previous!.end);
      expect(previous!.text.endsWith(doc.text.slice(current!.start, previous!.end))).toBe(true);
    }
    expectWellFormed(doc, chunks, 300, 80);
  });

  it('prefers repeating whole sentences as overlap', async () => {
    const doc = await parseDocument({
      content: 'Aa bb cc dd ee ff. Gg hh ii jj kk ll. Mm nn oo pp qq rr. Ss tt uu vv ww xx.',
    });
    const chunks = chunkDocument(doc, { maxChars: 40, overlapChars: 19 });
    expect(chunks.map((c) => c.text)).toEqual([
      'Aa bb cc dd ee ff. Gg hh ii jj kk ll.',
      'Gg hh ii jj kk ll. Mm nn oo pp qq rr.',
      'Mm nn oo pp qq rr. Ss tt uu vv ww xx.',
    ]);
  });

  it('packs a heading line with the text under it', async () => {
    const body = Array.from({ length: 40 }, (_, i) => `Step ${i} of the install.`).join(' ');
    const doc = await parseDocument({
      content: `# Guide\n\n## Install\n\n${body}`,
      mediaType: 'text/markdown',
    });
    const chunks = chunkDocument(doc, { maxChars: 300 });
    expect(chunks[0]?.text).toBe('# Guide');
    expect(chunks[1]?.text.startsWith('## Install\n\nStep 0 of the install.')).toBe(true);
    expect(chunks[1]?.headingPath).toEqual(['Guide', 'Install']);
  });

  it('never lets a chunk span two sections, however small they are', async () => {
    const doc = await parseDocument({
      content: '# A\none\n## B\ntwo\n## C\nthree',
      mediaType: 'text/markdown',
    });
    expect(chunkDocument(doc).map((c) => [c.headingPath, c.text])).toEqual([
      [['A'], '# A\none'],
      [['A', 'B'], '## B\ntwo'],
      [['A', 'C'], '## C\nthree'],
    ]);
  });

  it('splits inside a word only when the word alone exceeds maxChars', async () => {
    const word = 'x'.repeat(2500);
    const doc = await parseDocument({ content: `short ${word} tail` });
    const chunks = chunkDocument(doc, { maxChars: 1000, overlapChars: 100 });
    // The word is cut at exactly maxChars; its last piece is packed with the text after it.
    expect(chunks.map((c) => c.text.length)).toEqual([5, 1000, 1000, 505]);
    expect(
      chunks
        .slice(1)
        .map((c) => c.text)
        .join(''),
    ).toBe(`${word} tail`);
  });

  it('drops the overlap rather than cut a word that fits on its own', async () => {
    const word = 'y'.repeat(180);
    const doc = await parseDocument({ content: `${'lead words here. '.repeat(6)}${word} end` });
    const chunks = chunkDocument(doc, { maxChars: 200, overlapChars: 50 });
    expect(chunks.some((c) => c.text.startsWith(word))).toBe(true);
    expectWellFormed(doc, chunks, 200, 50);
  });

  it('does not split surrogate pairs when it must cut', async () => {
    const doc = await parseDocument({ content: '😀'.repeat(300) });
    const chunks = chunkDocument(doc, { maxChars: 101, overlapChars: 0 });
    for (const chunk of chunks) expect(chunk.text).toMatch(/^(?:😀)+$/u);
    expect(chunks.map((c) => c.text).join('')).toBe(doc.text);
  });

  it('cuts CJK text at ideographic full stops', async () => {
    const doc = await parseDocument({ content: '这是一个句子。'.repeat(30) });
    const chunks = chunkDocument(doc, { maxChars: 50, overlapChars: 0 });
    for (const chunk of chunks) expect(chunk.text.endsWith('。')).toBe(true);
    expect(chunks.map((c) => c.text).join('')).toBe(doc.text);
  });

  it('without overlap, chunks are disjoint', async () => {
    const doc = await parseDocument({ content: generatedMarkdown(9, 40), mediaType: 'text/markdown' });
    const chunks = chunkDocument(doc, { maxChars: 300, overlapChars: 0 });
    for (let i = 1; i < chunks.length; i++)
      expect(chunks[i]!.start).toBeGreaterThanOrEqual(chunks[i - 1]!.end);
  });

  it('is deterministic', async () => {
    const doc = await parseDocument({ content: generatedMarkdown(5, 80), mediaType: 'text/markdown' });
    expect(chunkDocument(doc, { maxChars: 400 })).toEqual(chunkDocument(doc, { maxChars: 400 }));
  });

  it('validates options with a clear RangeError', async () => {
    const doc = await parseDocument({ content: 'some text' });
    expect(() => chunkDocument(doc, { maxChars: 0 })).toThrow(/maxChars must be a positive integer/);
    expect(() => chunkDocument(doc, { maxChars: 10.5 })).toThrow(RangeError);
    expect(() => chunkDocument(doc, { maxChars: Number.NaN })).toThrow(RangeError);
    expect(() => chunkDocument(doc, { overlapChars: -1 })).toThrow(
      /overlapChars must be a non-negative integer/,
    );
    expect(() => chunkDocument(doc, { maxChars: 1200, overlapChars: 600 })).toThrow(
      /overlapChars must be less than half of maxChars \(1200\), got 600/,
    );
    expect(() => chunkDocument(doc, { maxChars: 1200, overlapChars: 599 })).not.toThrow();
  });

  it('scales the default overlap down when only maxChars is set', async () => {
    const sentences = Array.from({ length: 40 }, (_, i) => `Item ${i} is here.`).join(' ');
    const doc = await parseDocument({ content: sentences });
    const chunks = chunkDocument(doc, { maxChars: 100 });
    expectWellFormed(doc, chunks, 100, 12);
  });
});

describe('chunkEmbeddingText', () => {
  const chunk = (headingPath: string[]): Chunk => ({
    index: 0,
    text: 'Run npm ci.',
    headingPath,
    start: 0,
    end: 11,
  });

  it('puts the heading path on the first line', () => {
    expect(chunkEmbeddingText(chunk(['Guide', 'Install']))).toBe('Guide > Install\nRun npm ci.');
  });

  it('is the text alone without headings', () => {
    expect(chunkEmbeddingText(chunk([]))).toBe('Run npm ci.');
  });

  it('puts the document title first, once', () => {
    expect(chunkEmbeddingText(chunk(['Install']), 'Guide')).toBe('Guide > Install\nRun npm ci.');
    expect(chunkEmbeddingText(chunk(['Guide', 'Install']), 'Guide')).toBe('Guide > Install\nRun npm ci.');
    expect(chunkEmbeddingText(chunk([]), 'Guide')).toBe('Guide\nRun npm ci.');
    expect(chunkEmbeddingText(chunk([]), '  ')).toBe('Run npm ci.');
  });
});
