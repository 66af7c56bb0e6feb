import type { MediaType } from '../document.ts';
import { csvParser, tsvParser } from './csv.ts';
import { docxParser } from './docx.ts';
import type { FormatParser } from './format-parser.ts';
import { htmlParser } from './html.ts';
import { jsonLinesParser, jsonParser } from './json.ts';
import { markdownParser } from './markdown.ts';
import { pdfParser } from './pdf.ts';
import { plainTextParser } from './plain-text.ts';

/**
 * Every supported format, keyed by its media type; the mapped type makes the compiler reject a
 * `MediaType` without a parser. Order matters for sniffing: binary signatures first, then the
 * specific text formats, plain text (which accepts anything) last.
 */
const PARSERS: { readonly [Type in MediaType]: FormatParser<Type> } = {
  'application/pdf': pdfParser,
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': docxParser,
  'text/html': htmlParser,
  'application/x-ndjson': jsonLinesParser,
  'application/json': jsonParser,
  'text/csv': csvParser,
  'text/tab-separated-values': tsvParser,
  'text/markdown': markdownParser,
  'text/plain': plainTextParser,
};

const ALL: readonly FormatParser[] = Object.values(PARSERS);

/** Media types {@link parseDocument} accepts, in their canonical spelling. */
export const SUPPORTED_MEDIA_TYPES: readonly MediaType[] = Object.freeze(
  ALL.map((parser) => parser.mediaType),
);

/** The parser for a lower-case media type without parameters, or one of its aliases. */
export function parserForMediaType(mediaType: string): FormatParser | undefined {
  return ALL.find((parser) => parser.mediaType === mediaType || parser.aliases.includes(mediaType));
}

/** The parser for a lower-case file extension with its dot. */
export function parserForExtension(extension: string): FormatParser | undefined {
  return ALL.find((parser) => parser.extensions.includes(extension));
}

/** The first parser whose sniffer recognises the sample. */
export function sniffParser(
  sample: Parameters<NonNullable<FormatParser['sniff']>>[0],
): FormatParser | undefined {
  return ALL.find((parser) => parser.sniff?.(sample) === true);
}

/** The binary parser whose signature the bytes start with, if any. */
export function binaryParserFor(bytes: Uint8Array): FormatParser | undefined {
  return ALL.find((parser) => parser.kind === 'binary' && parser.magic.every((byte, i) => bytes[i] === byte));
}
