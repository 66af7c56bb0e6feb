import { decodeText } from './decode.ts';
import type { DocumentInput, MediaType, ParsedDocument } from './document.ts';
import { DocumentError } from './errors.ts';
import { detectMediaType, namedMediaType } from './media-type.ts';
import type { FormatParser } from './parsers/format-parser.ts';
import { SUPPORTED_MEDIA_TYPES, binaryParserFor, parserForMediaType } from './parsers/registry.ts';

/** Options for {@link parseDocument} and {@link checkDocument}. */
export interface ParseOptions {
  /**
   * Largest accepted document in bytes (UTF-8 bytes for text). Default 10 MiB: far beyond any text
   * a person writes, small enough that one upload cannot tie up a worker's memory. Apps pass
   * their configured limit.
   */
  maxBytes?: number;
  /**
   * Longest accepted extracted text, in UTF-16 code units. Default 16 million: a PDF or DOCX can
   * hold far more text than its size suggests, and every character is chunked and embedded.
   */
  maxTextChars?: number;
}

const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
const DEFAULT_MAX_TEXT_CHARS = 16_000_000;
const UTF8_BOM = [0xef, 0xbb, 0xbf];

interface Checked {
  mediaType: MediaType;
  parser: FormatParser;
  /** The decoded text, for text formats. */
  text?: string;
}

/**
 * The checks that need no parsing, in the order a person would want to hear about them: size,
 * format (detected as {@link detectMediaType} does), whether the content is what its declared
 * type says, emptiness and, for text formats, decoding. Cheap (linear, no parser runs), so a
 * gateway can refuse bad input before queueing work; {@link parseDocument} runs them too.
 *
 * @returns the canonical media type the document will be parsed as.
 * @throws {DocumentError} `too_large`, `unsupported_media_type`, `media_type_mismatch`, `empty`,
 *   `undecodable`.
 */
export function checkDocument(input: DocumentInput, options: ParseOptions = {}): MediaType {
  return check(input, options).mediaType;
}

/**
 * The media type {@link checkDocument} returns for a document with this declared type and file
 * name, when those settle it without the content (a declared type, or a known extension), so a
 * caller can know it before holding the content. `undefined` when only the content can tell (it
 * would be sniffed) or when the named type is not supported (checkDocument then refuses it).
 * When it returns a type, checkDocument either returns that same type or throws.
 */
export function mediaTypeFromName(
  input: Pick<DocumentInput, 'mediaType' | 'filename'>,
): MediaType | undefined {
  const named = namedMediaType(input);
  return named === undefined ? undefined : parserForMediaType(named)?.mediaType;
}

/**
 * Decodes and parses a document into text and sections (see {@link checkDocument} for the checks
 * that come first). Text formats are decoded as strict UTF-8 (HTML may declare another encoding);
 * line endings are normalized to `\n`. PDF and DOCX must arrive as bytes.
 *
 * @throws {DocumentError} as {@link checkDocument}, and `corrupt`, `encrypted`, `no_text`, `empty`
 *   or `too_large` (extracted text) from the format's parser.
 * @throws {RangeError} when an option is not a positive integer.
 */
export async function parseDocument(
  input: DocumentInput,
  options: ParseOptions = {},
): Promise<ParsedDocument> {
  const { mediaType, parser, text: decoded } = check(input, options);
  const maxTextChars = positive(options.maxTextChars, DEFAULT_MAX_TEXT_CHARS, 'maxTextChars');
  const body =
    parser.kind === 'binary'
      ? await parser.parse(input.content as Uint8Array)
      : await parser.parse(decoded ?? '');
  const text = body.text ?? decoded ?? '';
  if (!/\S/.test(text)) {
    throw new DocumentError(
      'empty',
      `The document has no text to index: its ${mediaType} content is empty or only markup.`,
    );
  }
  if (text.length > maxTextChars) {
    throw new DocumentError(
      'too_large',
      `The document's text is ${text.length.toLocaleString('en-US')} characters, over the ` +
        `${maxTextChars.toLocaleString('en-US')} limit. Split it into smaller documents.`,
    );
  }
  return {
    mediaType,
    ...(body.title === undefined ? {} : { title: body.title }),
    text,
    sections: body.sections,
  };
}

function check(input: DocumentInput, options: ParseOptions): Checked {
  const maxBytes = positive(options.maxBytes, DEFAULT_MAX_BYTES, 'maxBytes');
  const size = sizeOverLimit(input.content, maxBytes);
  if (size !== undefined) {
    throw new DocumentError(
      'too_large',
      `The document is ${formatBytes(size)}, over the ${formatBytes(maxBytes)} limit. ` +
        'Split it into smaller documents and send them separately.',
    );
  }

  const detected = detectMediaType(input);
  const parser = parserForMediaType(detected);
  if (parser === undefined) {
    throw new DocumentError(
      'unsupported_media_type',
      `Documents of type ${detected} are not supported. ` +
        `Supported types: ${SUPPORTED_MEDIA_TYPES.join(', ')}. ` +
        'Convert the document to one of them, or send the right media type if it already is one.',
    );
  }
  const { mediaType } = parser;
  const { content } = input;
  if (content.length === 0) {
    throw new DocumentError('empty', 'The document is empty, so there is nothing to index.');
  }

  if (parser.kind === 'binary') {
    if (typeof content === 'string') {
      throw new DocumentError(
        'media_type_mismatch',
        `${capitalize(parser.label)} must be sent as bytes (base64), not as text.`,
      );
    }
    if (!parser.magic.every((byte, i) => content[i] === byte)) {
      const actual = binaryParserFor(content);
      throw new DocumentError(
        'media_type_mismatch',
        `The document was declared as ${mediaType} but is not ${parser.label}` +
          (actual ? ` (it looks like ${actual.kind === 'binary' ? actual.label : actual.mediaType})` : '') +
          '. Send the right media type, or leave it out to have the format detected.',
      );
    }
    return { mediaType, parser };
  }

  if (typeof content !== 'string') {
    const actual = binaryParserFor(content);
    if (actual?.kind === 'binary') {
      throw new DocumentError(
        'media_type_mismatch',
        `The document was declared as ${mediaType} but is ${actual.label}. ` +
          `Send it with mediaType ${actual.mediaType}, or leave the media type out.`,
      );
    }
  }
  const hasBom = typeof content !== 'string' && UTF8_BOM.every((byte, i) => content[i] === byte);
  const charset = typeof content === 'string' || hasBom ? undefined : parser.charset?.(content);
  const text = decodeText(content, charset);
  if (!/\S/.test(text)) {
    throw new DocumentError(
      'empty',
      'The document is empty or only whitespace, so there is nothing to index.',
    );
  }
  return { mediaType, parser, text };
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const resolved = value ?? fallback;
  if (!Number.isSafeInteger(resolved) || resolved < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return resolved;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * The content's UTF-8 size when it is over `limit`, else `undefined`. Strings are only counted
 * when a cheap bound cannot settle it: a UTF-16 code unit encodes to at most 3 UTF-8 bytes.
 */
function sizeOverLimit(content: string | Uint8Array, limit: number): number | undefined {
  if (typeof content !== 'string') return content.byteLength > limit ? content.byteLength : undefined;
  if (content.length * 3 <= limit) return undefined;
  let bytes = 0;
  for (let i = 0; i < content.length; i++) {
    const code = content.charCodeAt(i);
    // Each half of a surrogate pair counts 2, so the pair counts its 4 bytes.
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code >= 0xd800 && code <= 0xdfff ? 2 : 3;
  }
  return bytes > limit ? bytes : undefined;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1).replace(/\.0$/, '')} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, '')} MiB`;
}
