import type { DocumentInput } from './document.ts';
import { normalizeLineEndings } from './decode.ts';
import { parserForExtension, parserForMediaType, sniffParser } from './parsers/registry.ts';

/** Types that say nothing about the format, so detection goes on to the file name and content. */
const UNINFORMATIVE_TYPES = new Set(['', 'application/octet-stream', 'binary/octet-stream']);

/**
 * Formats we recognise but cannot parse. Naming them lets the error say "DOC is not supported"
 * instead of failing to decode it as text.
 */
const KNOWN_UNSUPPORTED_EXTENSIONS: Readonly<Record<string, string>> = {
  '.doc': 'application/msword',
  '.odt': 'application/vnd.oasis.opendocument.text',
  '.rtf': 'application/rtf',
  '.epub': 'application/epub+zip',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  '.xls': 'application/vnd.ms-excel',
  '.pptx': 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  '.ppt': 'application/vnd.ms-powerpoint',
  '.zip': 'application/zip',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
};

/** Structure shows up early; sniffing the whole of a large upload would be wasted work. */
const SNIFF_SAMPLE_CHARS = 64 * 1024;

/**
 * Decides the media type of a document, trying in order:
 *
 * 1. the declared `mediaType`, lower-cased and without parameters (`;charset=utf-8`), with
 *    aliases such as `text/x-markdown` resolved; a declared type is trusted even when unsupported
 *    (so the error can name it), except `application/octet-stream` and empty strings, which say
 *    nothing;
 * 2. the `filename` extension (`.md`, `.pdf`, `.docx`, `.html`, `.csv`, … and a few known
 *    unsupported ones such as `.doc`);
 * 3. the content: PDF and DOCX signatures in bytes, then HTML, JSON Lines, JSON and Markdown
 *    structure in the first 64 KiB of text;
 * 4. `text/plain`.
 *
 * CSV is never sniffed (commas in prose look the same): declare it or name the file `.csv`.
 * Returns a canonical supported type where one applies, otherwise the type as found.
 */
export function detectMediaType(input: DocumentInput): string {
  const named = namedMediaType(input);
  if (named !== undefined) return named;

  const bytes = typeof input.content === 'string' ? undefined : input.content;
  const complete = input.content.length <= SNIFF_SAMPLE_CHARS;
  return (
    sniffParser({ text: sample(input.content), complete, ...(bytes ? { bytes } : {}) })?.mediaType ??
    'text/plain'
  );
}

/**
 * Steps 1 and 2 of {@link detectMediaType}: the type the declared `mediaType` or the `filename`
 * extension settles on, without looking at the content; `undefined` when the content decides.
 */
export function namedMediaType(input: Pick<DocumentInput, 'mediaType' | 'filename'>): string | undefined {
  const declared = (input.mediaType?.split(';')[0] ?? '').trim().toLowerCase();
  if (!UNINFORMATIVE_TYPES.has(declared)) return parserForMediaType(declared)?.mediaType ?? declared;

  const extension = extensionOf(input.filename);
  if (extension !== undefined) {
    return parserForExtension(extension)?.mediaType ?? KNOWN_UNSUPPORTED_EXTENSIONS[extension];
  }
  return undefined;
}

function extensionOf(filename: string | undefined): string | undefined {
  const base = filename?.split(/[/\\]/).at(-1) ?? '';
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot).toLowerCase() : undefined;
}

function sample(content: string | Uint8Array): string {
  // Lenient decoding: the cut may split a character, and invalid bytes are reported by parsing.
  const text =
    typeof content === 'string'
      ? content.slice(0, SNIFF_SAMPLE_CHARS)
      : new TextDecoder('utf-8').decode(content.subarray(0, SNIFF_SAMPLE_CHARS));
  return normalizeLineEndings(text);
}
