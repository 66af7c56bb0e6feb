import type { StructuredTextItem } from 'unpdf';
import { DocumentError } from '../errors.ts';
import { blocksToText, headingText, type Block } from './blocks.ts';
import type { BinaryFormatParser } from './format-parser.ts';

const PDF_MAGIC = [0x25, 0x50, 0x44, 0x46, 0x2d]; // "%PDF-"

// A line is a heading when its font is this much larger than the body text and it is short.
const HEADING_SIZE_RATIO = 1.2;
const MAX_HEADING_LINE_CHARS = 120;
// Lines further apart than this many font heights start a new paragraph.
const PARAGRAPH_GAP = 1.6;

interface Line {
  text: string;
  size: number;
  y: number;
}

/**
 * PDF: the text layer, page by page, through pdf.js (via unpdf). Every section lies on one page and
 * carries its page number. Lines set in a clearly larger font than the body text and short enough
 * to be titles become headings (the largest size is level 1), so PDFs get heading paths too;
 * vertical gaps between lines become paragraph breaks.
 *
 * A PDF whose pages hold no text at all (a scan, or pages made of images) is refused: it needs OCR
 * first, and indexing it as an empty document would hide that.
 *
 * Title: the document's Title property, else its first level-1 heading.
 */
export const pdfParser: BinaryFormatParser<'application/pdf'> = {
  kind: 'binary',
  mediaType: 'application/pdf',
  aliases: ['application/x-pdf'],
  extensions: ['.pdf'],
  magic: PDF_MAGIC,
  label: 'a PDF',
  sniff: ({ bytes }) => bytes !== undefined && PDF_MAGIC.every((b, i) => bytes[i] === b),
  async parse(bytes) {
    // pdf.js transfers (detaches) the buffer it is given; a copy keeps the caller's bytes intact.
    const data = bytes.slice();
    let pages: StructuredTextItem[][];
    let metaTitle: unknown;
    try {
      // Loaded on first use: a fresh parse thread per document should not load pdf.js for a CSV.
      const { extractTextItems, getDocumentProxy, getMeta } = await import('unpdf');
      // Errors only: pdf.js would otherwise print warnings into the worker's JSON log lines.
      const pdf = await getDocumentProxy(data, { verbosity: 0 });
      try {
        checkPageCount(pdf.numPages, bytes.length);
        pages = (await extractTextItems(pdf)).items;
        metaTitle = (await getMeta(pdf)).info['Title'];
      } finally {
        await pdf.loadingTask.destroy();
      }
    } catch (cause) {
      throw pdfError(cause);
    }

    const lines = pages.map(toLines);
    if (lines.every((page) => page.length === 0)) {
      throw new DocumentError(
        'no_text',
        `The PDF has ${pages.length} page${pages.length === 1 ? '' : 's'} but no text layer: it looks scanned or made of images. ` +
          'Run it through OCR (for example ocrmypdf) and send the result.',
      );
    }
    const blocks = toBlocks(lines);
    const { text, sections } = blocksToText(blocks);
    const declared = typeof metaTitle === 'string' ? headingText(metaTitle) : '';
    const firstHeading = blocks.find((b) => b.kind === 'heading' && b.level === 1)?.text;
    const title = declared !== '' ? declared : firstHeading;
    return { text, sections, ...(title === undefined ? {} : { title: headingText(title) }) };
  },
};

/**
 * Most pages a PDF may have. Far more than a book; what pdf.js would walk for a page tree that
 * repeats one child (100 × 100 × 100 kids of 2.5 KB claims a million pages, and reading them took
 * 4.4 GB).
 */
const MAX_PAGES = 10_000;
/**
 * Fewest bytes a real page takes in the file (its page object and cross-reference entry). A
 * page tree claiming more pages than its bytes can hold repeats pages.
 */
const MIN_BYTES_PER_PAGE = 20;

function checkPageCount(pages: number, bytes: number): void {
  if (pages > MAX_PAGES) {
    throw new DocumentError(
      'too_complex',
      `The PDF claims ${pages.toLocaleString('en-US')} pages, more than the ${MAX_PAGES.toLocaleString('en-US')} ` +
        'Hopper reads in one document. Split it into smaller PDFs and send them separately.',
    );
  }
  if (pages > 16 && pages * MIN_BYTES_PER_PAGE > bytes) {
    throw new DocumentError(
      'too_complex',
      `The PDF's page tree claims ${pages.toLocaleString('en-US')} pages in ${bytes.toLocaleString('en-US')} bytes: ` +
        'it repeats pages, which real PDFs never do. Re-export it and send it again.',
    );
  }
}

function pdfError(cause: unknown): DocumentError {
  const name = cause instanceof Error ? cause.name : '';
  if (name === 'PasswordException') {
    return new DocumentError(
      'encrypted',
      'The PDF is password-protected. Remove the password (or export an unprotected copy) and send it again.',
      { cause },
    );
  }
  if (cause instanceof DocumentError) return cause;
  // pdf.js's own words ("Invalid XRef stream header") stay in the cause, for the logs.
  return new DocumentError(
    'corrupt',
    'The PDF is damaged and cannot be read (its structure or cross-reference table is invalid). ' +
      'Re-export it and send it again.',
    { cause },
  );
}

/** Groups a page's text items into lines (pdf.js marks line ends with `hasEOL`). */
function toLines(items: StructuredTextItem[]): Line[] {
  const lines: Line[] = [];
  let text = '';
  let size = 0;
  let y = 0;
  const end = (): void => {
    const trimmed = text.replace(/\s+/g, ' ').trim();
    if (trimmed !== '') lines.push({ text: trimmed, size, y });
    text = '';
    size = 0;
  };
  for (const item of items) {
    if (item.str.trim() !== '') {
      if (text === '') y = item.y;
      size = Math.max(size, Math.round(item.fontSize * 2) / 2);
    }
    text += item.str;
    if (item.hasEOL) end();
  }
  end();
  return lines;
}

/** The font size most characters are set in: the body text. */
function bodySize(pages: Line[][]): number {
  const chars = new Map<number, number>();
  for (const page of pages)
    for (const line of page) chars.set(line.size, (chars.get(line.size) ?? 0) + line.text.length);
  let best = 0;
  let bestCount = -1;
  for (const [size, count] of chars) {
    if (count > bestCount) [best, bestCount] = [size, count];
  }
  return best;
}

function toBlocks(pages: Line[][]): Block[] {
  const body = bodySize(pages);
  const isHeading = (line: Line): boolean =>
    body > 0 &&
    line.size >= body * HEADING_SIZE_RATIO &&
    line.text.length <= MAX_HEADING_LINE_CHARS &&
    /\p{L}/u.test(line.text);
  // Heading levels by size: the largest heading size is level 1.
  const headingSizes = [
    ...new Set(
      pages
        .flat()
        .filter(isHeading)
        .map((line) => line.size),
    ),
  ].sort((a, b) => b - a);
  const level = (size: number): number => Math.min(6, headingSizes.indexOf(size) + 1);

  const blocks: Block[] = [];
  pages.forEach((lines, index) => {
    const page = index + 1;
    let paragraph: string[] = [];
    let previous: Line | undefined;
    const flush = (): void => {
      if (paragraph.length > 0) blocks.push({ kind: 'text', text: paragraph.join('\n'), page });
      paragraph = [];
    };
    for (const line of lines) {
      if (isHeading(line)) {
        flush();
        const last = blocks.at(-1);
        // A heading wrapped over two lines arrives as two lines of the same size.
        if (
          previous !== undefined &&
          isHeading(previous) &&
          previous.size === line.size &&
          last?.kind === 'heading'
        ) {
          last.text = `${last.text} ${line.text}`;
        } else {
          blocks.push({ kind: 'heading', level: level(line.size), text: line.text, page });
        }
      } else {
        if (
          previous !== undefined &&
          !isHeading(previous) &&
          Math.abs(previous.y - line.y) > line.size * PARAGRAPH_GAP
        ) {
          flush();
        }
        paragraph.push(line.text);
      }
      previous = line;
    }
    flush();
  });
  return blocks;
}
