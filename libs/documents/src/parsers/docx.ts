import mammoth from 'mammoth';
import { DocumentError } from '../errors.ts';
import type { BinaryFormatParser } from './format-parser.ts';
import { htmlParser } from './html.ts';
import { zipEntries } from './zip-entries.ts';

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
      const inflated = entries.reduce((sum, entry) => sum + entry.uncompressedSize, 0);
      if (inflated > MAX_INFLATED_BYTES) {
        throw new DocumentError(
          'too_large',
          `The DOCX file inflates to ${Math.round(inflated / 1024 / 1024)} MiB, over the ` +
            `${MAX_INFLATED_BYTES / 1024 / 1024} MiB limit. Split it into smaller documents.`,
        );
      }
      let html: string;
      try {
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
        throw new DocumentError(
          'corrupt',
          `The DOCX file is damaged and cannot be read (${cause instanceof Error ? cause.message : String(cause)}). ` +
            'Re-save it from your word processor and send it again.',
          { cause },
        );
      }
      const body = await htmlParser.parse(html);
      return { ...body, text: body.text ?? '' };
    },
  };
