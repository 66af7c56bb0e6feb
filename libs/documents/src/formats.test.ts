import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chunkDocument } from './chunk.ts';
import { DocumentError } from './errors.ts';
import { checkDocument, parseDocument } from './parse.ts';
import type { ParsedDocument } from './document.ts';

const fixture = (name: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(`../../../test/fixtures/documents/${name}`, import.meta.url)));
const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';

async function documentError(run: () => unknown): Promise<DocumentError> {
  try {
    await run();
  } catch (error) {
    if (error instanceof DocumentError) return error;
    throw error;
  }
  throw new Error('expected a DocumentError');
}

/** Every section is the slice of the text its offsets name, in order. */
function expectConsistent(doc: ParsedDocument): void {
  let previous = 0;
  for (const section of doc.sections) {
    expect(doc.text.slice(section.start, section.end)).toBe(section.text);
    expect(section.start).toBeGreaterThanOrEqual(previous);
    previous = section.end;
  }
}

describe('PDF', () => {
  it('extracts text per page, with page numbers and headings from larger fonts', async () => {
    const doc = await parseDocument({ content: fixture('manual.pdf') });
    expect(doc.mediaType).toBe('application/pdf');
    expect(doc.title).toBe('Lighthouse Maintenance Manual');
    expectConsistent(doc);
    expect(doc.sections.map((s) => [s.page, s.headingPath])).toEqual([
      [1, ['Lighthouse Maintenance Manual']],
      [1, ['Lighthouse Maintenance Manual', 'Daily duties']],
      [2, ['Lighthouse Maintenance Manual', 'Lens care']],
    ]);
    const lens = doc.sections[2]!;
    expect(lens.text).toContain('polishes the Fresnel lens');
    const chunks = chunkDocument(doc);
    expect(chunks.find((c) => c.text.includes('Fresnel'))).toMatchObject({ page: 2 });
  });

  it('refuses a PDF without a text layer, saying it needs OCR', async () => {
    const error = await documentError(() => parseDocument({ content: fixture('scanned.pdf') }));
    expect(error.code).toBe('no_text');
    expect(error.message).toMatch(/no text layer.*OCR/s);
  });

  it('refuses a damaged PDF', async () => {
    const damaged = fixture('manual.pdf').slice(0, 300);
    const error = await documentError(() => parseDocument({ content: damaged }));
    expect(error.code).toBe('corrupt');
    expect(error.message).toMatch(/PDF is damaged/);
  });

  it('refuses text declared as PDF, and a PDF declared as text', async () => {
    const asPdf = await documentError(() =>
      parseDocument({ content: encode('hello'), mediaType: 'application/pdf' }),
    );
    expect(asPdf.code).toBe('media_type_mismatch');
    expect(asPdf.message).toMatch(/declared as application\/pdf but is not a PDF/);
    const asText = await documentError(() =>
      parseDocument({ content: fixture('manual.pdf'), mediaType: 'text/plain' }),
    );
    expect(asText.code).toBe('media_type_mismatch');
    expect(asText.message).toMatch(/mediaType application\/pdf/);
    const asString = await documentError(() => parseDocument({ content: 'x', mediaType: 'application/pdf' }));
    expect(asString.message).toMatch(/must be sent as bytes/);
  });
});

describe('DOCX', () => {
  it('reads paragraphs under Title and Heading styles', async () => {
    const doc = await parseDocument({ content: fixture('handbook.docx') });
    expect(doc.mediaType).toBe(DOCX);
    expect(doc.title).toBe('Beekeeping Handbook');
    expectConsistent(doc);
    expect(doc.sections.map((s) => s.headingPath)).toEqual([
      ['Beekeeping Handbook'],
      ['Hive inspection'],
      ['Hive inspection', 'Smoking the bees'],
      ['Harvest'],
    ]);
    expect(doc.sections[2]?.text).toContain('cool smoke from burning pine needles');
  });

  it('refuses a zip bomb from its directory, before inflating anything', async () => {
    const bomb = fixture('handbook.docx').slice();
    const view = new DataView(bomb.buffer);
    // Every central directory entry claims 1 GiB inflated.
    for (let i = 0; i + 4 <= bomb.length; i++) {
      if (view.getUint32(i, true) === 0x02014b50) view.setUint32(i + 24, 1024 ** 3, true);
    }
    const error = await documentError(() => parseDocument({ content: bomb }));
    expect(error.code).toBe('too_large');
    expect(error.message).toMatch(/inflates to 6144 MiB/);
  });

  it('refuses a zip that is not a Word document, and a broken one', async () => {
    const notWord = await documentError(() =>
      parseDocument({ content: fixture('handbook.docx').slice(0, 200), mediaType: DOCX }),
    );
    expect(notWord.code).toBe('corrupt');
    const error = await documentError(() =>
      parseDocument({ content: encode('not a zip'), filename: 'a.docx' }),
    );
    expect(error.code).toBe('media_type_mismatch');
  });
});

describe('HTML', () => {
  it('keeps the main text with its headings and drops scripts, styles and page furniture', async () => {
    const doc = await parseDocument({ content: fixture('guide.html') });
    expect(doc.mediaType).toBe('text/html');
    expect(doc.title).toBe('Sourdough Baking Guide');
    expectConsistent(doc);
    expect(doc.sections.map((s) => s.headingPath)).toEqual([
      ['Sourdough Baking Guide'],
      ['Sourdough Baking Guide', 'Feeding the starter'],
      ['Sourdough Baking Guide', 'Shaping'],
    ]);
    expect(doc.text).toContain('equal weights of rye flour and water every twelve hours');
    expect(doc.text).toContain('- Use filtered water.\n- Discard half before feeding.');
    expect(doc.text).toContain('Stage | Hours\nBulk | 5');
    for (const boilerplate of [
      'analytics',
      'stylesheet',
      'navigation',
      'banner',
      'sidebar',
      'footer',
      'hidden',
    ]) {
      expect(doc.text).not.toContain(boilerplate);
    }
  });

  it('reads the body when no main content is marked, and honours a declared charset', async () => {
    const latin1 = Uint8Array.from([
      ...encode('<html><head><meta charset="windows-1252"></head><body><h1>Caf'),
      0xe9,
      ...encode('</h1><p>Cr'),
      0xe8,
      ...encode('me br'),
      0xfb,
      ...encode('l'),
      0xe9,
      ...encode('e</p></body></html>'),
    ]);
    const doc = await parseDocument({ content: latin1 });
    expect(doc.text).toBe('Café\n\nCrème brûlée');
    expect(doc.sections[0]?.headingPath).toEqual(['Café']);
  });

  it('refuses a page with nothing but boilerplate', async () => {
    const error = await documentError(() =>
      parseDocument({ content: '<html><body><nav>Home</nav><script>x()</script></body></html>' }),
    );
    expect(error.code).toBe('empty');
  });
});

describe('JSON, JSON Lines and CSV', () => {
  it('writes each JSON record as field: value lines in its own section', async () => {
    const doc = await parseDocument({
      content: JSON.stringify([
        { name: 'Ada', address: { city: 'London' }, tags: ['math', 'engines'] },
        { name: 'Grace', items: [{ sku: 'A1' }] },
      ]),
    });
    expect(doc.mediaType).toBe('application/json');
    expectConsistent(doc);
    expect(doc.sections.map((s) => [s.headingPath, s.text])).toEqual([
      [['$[0]'], 'name: Ada\naddress.city: London\ntags: math, engines'],
      [['$[1]'], 'name: Grace\nitems[0].sku: A1'],
    ]);
  });

  it('reads JSON Lines and names the bad line', async () => {
    const doc = await parseDocument({ content: '{"a": 1}\n\n{"a": 2}\n', filename: 'x.jsonl' });
    expect(doc.sections.map((s) => [s.headingPath, s.text])).toEqual([
      [['line 1'], 'a: 1'],
      [['line 3'], 'a: 2'],
    ]);
    const error = await documentError(() =>
      parseDocument({ content: '{"a": 1}\n{"a": \n', filename: 'x.jsonl' }),
    );
    expect(error.code).toBe('corrupt');
    expect(error.message).toMatch(/Line 2/);
  });

  it('refuses malformed JSON', async () => {
    const error = await documentError(() =>
      parseDocument({ content: '{"a": [1, 2', mediaType: 'application/json' }),
    );
    expect(error.code).toBe('corrupt');
    expect(error.message).toMatch(/not valid JSON/);
  });

  it('writes CSV rows with their header names, guessing the delimiter', async () => {
    const doc = await parseDocument({
      content: 'city;country;note\nLisbon;Portugal;"hills; trams"\nOslo;Norway;\n',
      filename: 'cities.csv',
    });
    expect(doc.mediaType).toBe('text/csv');
    expect(doc.sections.map((s) => [s.headingPath, s.text])).toEqual([
      [['row 1'], 'city: Lisbon\ncountry: Portugal\nnote: hills; trams'],
      [['row 2'], 'city: Oslo\ncountry: Norway'],
    ]);
  });

  it('refuses a CSV with an unclosed quote, or with no data rows', async () => {
    const broken = await documentError(() =>
      parseDocument({ content: 'a,b\n"x,1\n', mediaType: 'text/csv' }),
    );
    expect(broken.code).toBe('corrupt');
    const headerOnly = await documentError(() => parseDocument({ content: 'a,b\n', mediaType: 'text/csv' }));
    expect(headerOnly.code).toBe('empty');
  });
});

describe('checkDocument', () => {
  it('runs the cheap checks without parsing', () => {
    expect(checkDocument({ content: fixture('manual.pdf') })).toBe('application/pdf');
    expect(checkDocument({ content: fixture('handbook.docx') })).toBe(DOCX);
    expect(() => checkDocument({ content: new Uint8Array(0), mediaType: 'application/pdf' })).toThrow(
      /empty/,
    );
    expect(() => checkDocument({ content: Uint8Array.of(0xc3, 0x28) })).toThrow(/not valid UTF-8/);
    expect(() => checkDocument({ content: fixture('manual.pdf') }, { maxBytes: 100 })).toThrow(
      /over the 100 bytes limit/,
    );
  });
});
