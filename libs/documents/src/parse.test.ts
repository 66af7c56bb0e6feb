import { describe, expect, it } from 'vitest';
import { DocumentError } from './errors.ts';
import { checkDocument, mediaTypeFromName, parseDocument } from './parse.ts';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

async function documentError(run: () => Promise<unknown>): Promise<DocumentError> {
  try {
    await run();
  } catch (error) {
    if (error instanceof DocumentError) return error;
    throw error;
  }
  throw new Error('expected a DocumentError');
}

describe('parseDocument: decoding', () => {
  it('decodes UTF-8 bytes', async () => {
    const doc = await parseDocument({ content: encode('Grüße, 世界 😀'), mediaType: 'text/plain' });
    expect(doc.text).toBe('Grüße, 世界 😀');
  });

  it('rejects invalid UTF-8 and says where the first bad byte is', async () => {
    // "café" saved as Latin-1: 0xE9 is not valid UTF-8 here.
    const error = await documentError(() =>
      parseDocument({ content: Uint8Array.of(0x63, 0x61, 0x66, 0xe9, 0x21) }),
    );
    expect(error.code).toBe('undecodable');
    expect(error.message).toContain('not valid UTF-8');
    expect(error.message).toContain('0xE9 at offset 3');
  });

  it('rejects overlong encodings and encoded surrogates, which lenient decoders accept', async () => {
    expect(
      (await documentError(() => parseDocument({ content: Uint8Array.of(0x41, 0xc0, 0xaf) }))).message,
    ).toContain('offset 1');
    expect(
      (await documentError(() => parseDocument({ content: Uint8Array.of(0x41, 0x42, 0xed, 0xa0, 0x80) })))
        .message,
    ).toContain('offset 2');
  });

  it('tells the sender to convert UTF-16 files', async () => {
    const error = await documentError(() =>
      parseDocument({ content: Uint8Array.of(0xff, 0xfe, 0x68, 0x00) }),
    );
    expect(error.code).toBe('undecodable');
    expect(error.message).toContain('UTF-16');
  });

  it('drops a byte-order mark, from bytes and from strings', async () => {
    const fromBytes = await parseDocument({ content: Uint8Array.of(0xef, 0xbb, 0xbf, ...encode('Hello')) });
    const fromString = await parseDocument({ content: '\uFEFFHello' });
    for (const doc of [fromBytes, fromString]) {
      expect(doc.text).toBe('Hello');
      expect(doc.sections[0]).toMatchObject({ start: 0, end: 5, text: 'Hello' });
    }
  });

  it('normalizes CRLF and lone CR line endings to LF', async () => {
    const doc = await parseDocument({ content: encode('# A\r\n\r\none\r\ntwo\rthree\r\n## B\r\nfour') });
    expect(doc.text).toBe('# A\n\none\ntwo\nthree\n## B\nfour');
    expect(doc.sections.map((s) => s.headingPath)).toEqual([['A'], ['A', 'B']]);
  });
});

describe('parseDocument: refusals', () => {
  it('refuses unsupported types and names the supported ones', async () => {
    const error = await documentError(() => parseDocument({ content: 'x', mediaType: 'application/msword' }));
    expect(error.code).toBe('unsupported_media_type');
    expect(error.message).toContain('application/msword');
    expect(error.message).toContain('text/plain');
    expect(error.message).toContain('text/markdown');
  });

  it('refuses empty and whitespace-only documents', async () => {
    for (const content of [
      '',
      ' \n\t\r\n ',
      '\uFEFF',
      Uint8Array.of(),
      Uint8Array.of(0xef, 0xbb, 0xbf, 0x20),
    ]) {
      expect((await documentError(() => parseDocument({ content }))).code).toBe('empty');
    }
  });

  it('refuses documents over maxBytes, counting UTF-8 bytes', async () => {
    expect((await parseDocument({ content: 'é'.repeat(5) }, { maxBytes: 10 })).text).toBe('ééééé');
    const error = await documentError(() => parseDocument({ content: 'é'.repeat(6) }, { maxBytes: 10 }));
    expect(error.code).toBe('too_large');
    expect(error.message).toContain('12 bytes, over the 10 bytes limit');
    expect(
      (await documentError(() => parseDocument({ content: new Uint8Array(2048) }, { maxBytes: 1024 })))
        .message,
    ).toContain('2 KiB');
  });

  it('rejects a nonsensical maxBytes', async () => {
    await expect(parseDocument({ content: 'x' }, { maxBytes: 0 })).rejects.toThrow(RangeError);
    await expect(parseDocument({ content: 'x' }, { maxBytes: 1.5 })).rejects.toThrow(RangeError);
  });
});

describe('parseDocument: plain text', () => {
  it('is one trimmed section with no headings', async () => {
    const doc = await parseDocument({
      content: '\n\n  First paragraph.\n\nSecond one.  \n\n',
      mediaType: 'text/plain',
    });
    expect(doc.mediaType).toBe('text/plain');
    expect(doc.sections).toEqual([
      { headingPath: [], text: 'First paragraph.\n\nSecond one.', start: 4, end: 33 },
    ]);
    expect(doc.text.slice(4, 33)).toBe(doc.sections[0]?.text);
  });

  it('takes a short first line that stands alone as the title', async () => {
    expect((await parseDocument({ content: '  Release notes  \n\nWe fixed things.' })).title).toBe(
      'Release notes',
    );
  });

  it('takes no title from a wrapped paragraph, a long line or a one-line document', async () => {
    expect(
      (await parseDocument({ content: 'This paragraph is\nhard-wrapped.\n\nMore.' })).title,
    ).toBeUndefined();
    expect((await parseDocument({ content: `${'x '.repeat(61)}\n\nMore.` })).title).toBeUndefined();
    expect((await parseDocument({ content: 'Only line' })).title).toBeUndefined();
  });

  it('does not treat # lines as headings when declared plain text', async () => {
    const doc = await parseDocument({ content: '# one\n## two', mediaType: 'text/plain' });
    expect(doc.sections).toHaveLength(1);
    expect(doc.sections[0]?.headingPath).toEqual([]);
  });
});

describe('mediaTypeFromName', () => {
  it('is what checkDocument returns, when the declared type or the file name settles it', () => {
    const content = encode('# Heading\n\nSome text, with a comma.');
    const named: [string | undefined, string | undefined][] = [
      ['text/plain', 'notes.md'],
      ['Text/X-Markdown; charset=utf-8', undefined],
      ['application/octet-stream', 'table.csv'],
      [undefined, 'NOTES.MD'],
      ['', 'data.tsv'],
      [undefined, 'page.htm'],
    ];
    for (const [mediaType, filename] of named) {
      const input = { ...(mediaType === undefined ? {} : { mediaType }), ...(filename ? { filename } : {}) };
      const type = mediaTypeFromName(input);
      expect(type, JSON.stringify(input)).toBeDefined();
      expect(checkDocument({ content, ...input })).toBe(type);
    }
  });

  it('is undefined when only the content can tell, or the named type is not supported', () => {
    expect(mediaTypeFromName({})).toBeUndefined();
    expect(mediaTypeFromName({ filename: 'README' })).toBeUndefined();
    expect(mediaTypeFromName({ filename: 'notes.unknown' })).toBeUndefined();
    expect(mediaTypeFromName({ mediaType: 'application/octet-stream', filename: 'blob' })).toBeUndefined();
    expect(mediaTypeFromName({ filename: 'old.doc' })).toBeUndefined();
    expect(mediaTypeFromName({ mediaType: 'image/png' })).toBeUndefined();
  });
});
