import { describe, expect, it } from 'vitest';
import { lyingZipDocx, pageTreeBombPdf } from '../../../test/support/hostile-documents.ts';
import { DocumentError } from './errors.ts';
import { parseDocument } from './parse.ts';

// Documents built to cost far more than their size (issue #20), refused by what they are before
// they cost it. The end-to-end suite (test/e2e/hostile-input.test.ts) runs the full table.

async function failure(promise: Promise<unknown>): Promise<DocumentError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(DocumentError);
  return error as DocumentError;
}

describe('hostile documents', () => {
  it('refuses a DOCX whose zip lies about its sizes, counting the bytes it inflates', async () => {
    const docx = await lyingZipDocx(300 * 1024 * 1024);
    const before = process.memoryUsage().rss;
    const error = await failure(parseDocument({ content: docx.content, mediaType: docx.mediaType }));
    expect(error.code).toBe('too_large');
    expect(error.message).toMatch(
      /inflates past the 256 MiB limit, though its zip directory declares 1,\d{3} bytes/,
    );
    // Counted while inflating, never held: nowhere near the 256 MiB it inflated.
    expect(process.memoryUsage().rss - before).toBeLessThan(128 * 1024 * 1024);
  });

  it('refuses a PDF page tree that repeats one page a million times, before walking it', async () => {
    const pdf = pageTreeBombPdf();
    const error = await failure(parseDocument({ content: pdf.content, mediaType: pdf.mediaType }));
    expect(error.code).toBe('too_complex');
    expect(error.message).toMatch(/claims 1,000,000 pages, more than the 10,000/);
  });

  it('refuses a page tree within the page limit that claims more pages than its bytes hold', async () => {
    const pdf = pageTreeBombPdf(20, 3);
    const error = await failure(parseDocument({ content: pdf.content, mediaType: pdf.mediaType }));
    expect(error.message).toMatch(/claims 8,000 pages in [\d,]+ bytes: it repeats pages/);
  });
});
