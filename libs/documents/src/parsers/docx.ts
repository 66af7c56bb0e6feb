import { DocumentError } from '../errors.ts';
import type { BinaryFormatParser } from './format-parser.ts';
import { htmlParser } from './html.ts';
import { inflatedBytes, zipEntries } from './zip-entries.ts';

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04]; // "PK\3\4"
const MAIN_PART = 'word/document.xml';
/**
 * Inflated size the archive may claim. Word files are mostly compressed XML, rarely over a few
 * dozen megabytes inflated; a zip bomb claims gigabytes and would exhaust the worker's memory.
 */
const MAX_INFLATED_BYTES = 256 * 1024 * 1024;

// Word's built-in title styles become headings, so a document's title heads its heading path the
// way a Markdown `#` title does; Heading 1-6 are mapped to h1-h6 by mammoth's defaults.
const STYLE_MAP = ["p[style-name='Title'] => h1:fresh", "p[style-name='Subtitle'] => h2:fresh"];

/**
 * DOCX (Word 2007 and later): paragraphs, lists and tables with the heading structure of the
 * Heading 1-6 (and Title) styles, through mammoth's conversion to HTML and the HTML parser's
 * reading of it. Images are dropped (their alternative text is kept); linked external files are
 * never opened.
 *
 * Title: the first Title or Heading 1 paragraph.
 */
export const docxParser: BinaryFormatParser<'application/vnd.openxmlformats-officedocument.wordprocessingml.document'> =
  {
    kind: 'binary',
    mediaType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    aliases: [],
    extensions: ['.docx'],
    magic: ZIP_MAGIC,
    label: 'a DOCX (Word) file',
    sniff: ({ bytes }) =>
      bytes !== undefined &&
      ZIP_MAGIC.every((b, i) => bytes[i] === b) &&
      (zipEntries(bytes)?.some((entry) => entry.name === MAIN_PART) ?? false),
    async parse(bytes) {
      const entries = zipEntries(bytes);
      if (entries === undefined) {
        throw new DocumentError(
          'corrupt',
          'The DOCX file is damaged: its zip directory cannot be read. Re-save it and send it again.',
        );
      }
      if (!entries.some((entry) => entry.name === MAIN_PART)) {
        throw new DocumentError(
          'corrupt',
          'The file is a zip archive but not a DOCX (Word) document: it has no word/document.xml. ' +
            'Send a .docx file, or the right media type for what it is.',
        );
      }
      // Declared sizes first (free), then the bytes that actually come out: a zip may lie about
      // its sizes, and the reader below would inflate everything before noticing.
      const declared = entries.reduce((sum, entry) => sum + entry.uncompressedSize, 0);
      const inflated =
        declared > MAX_INFLATED_BYTES ? undefined : await inflatedBytes(bytes, entries, MAX_INFLATED_BYTES);
      if (inflated === undefined) {
        const limit = `${MAX_INFLATED_BYTES / 1024 / 1024} MiB`;
        throw new DocumentError(
          'too_large',
          (declared > MAX_INFLATED_BYTES
            ? `The DOCX file inflates to ${formatMiB(declared)}, over the ${limit} limit.`
            : `The DOCX file inflates past the ${limit} limit, though its zip directory declares ${formatMiB(declared)}.`) +
            ' Split it into smaller documents, or remove large embedded files, and send it again.',
        );
      }
      let html: string;
      try {
        // Loaded on first use: a fresh parse thread per document should not load it for a CSV.
        const { default: mammoth } = await import('mammoth');
        const result = await mammoth.convertToHtml(
          { buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) },
          {
            styleMap: STYLE_MAP,
            externalFileAccess: false,
            convertImage: mammoth.images.imgElement(() => Promise.resolve({ src: '' })),
          },
        );
        html = result.value;
      } catch (cause) {
        // The zip or XML library's own words ("Bug : uncompressed data size mismatch") help
        // nobody who sent the file; they stay in the cause, for the logs.
        throw new DocumentError(
          'corrupt',
          'The DOCX file is damaged and cannot be read (its zip archive or XML is invalid). ' +
            'Re-save it from your word processor and send it again.',
          { cause },
        );
      }
      const body = await htmlParser.parse(html);
      return { ...body, text: body.text ?? '' };
    },
  };

function formatMiB(bytes: number): string {
  return bytes < 1024 * 1024
    ? `${bytes.toLocaleString('en-US')} bytes`
    : `${Math.round(bytes / 1024 / 1024)} MiB`;
}
