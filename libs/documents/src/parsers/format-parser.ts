import type { MediaType, Section } from '../document.ts';

/** What a parser extracts from a document. */
export interface ParsedBody {
  /**
   * The text the sections index into, when the parser derives it (HTML, PDF, DOCX, JSON, CSV).
   * Absent for formats whose text is the decoded content itself (plain text, Markdown).
   */
  text?: string;
  title?: string;
  sections: Section[];
}

/** The start of a document, for formats recognised from their content. */
export interface Sample {
  /** Up to the first 64 KiB, leniently decoded as UTF-8 with `\n` line endings. */
  text: string;
  /** Whether `text` is the whole content (it was not cut at 64 KiB). */
  complete?: boolean;
  /** The raw bytes when the content arrived as bytes (the whole content: zip archives are read from their end). */
  bytes?: Uint8Array;
}

interface ParserInfo<Type extends MediaType = MediaType> {
  readonly mediaType: Type;
  /** Other names clients send for the same format, lower-case (e.g. `text/x-markdown`). */
  readonly aliases: readonly string[];
  /** File extensions, lower-case with the dot (e.g. `.md`). */
  readonly extensions: readonly string[];
  /**
   * Recognises the format from the content when neither a media type nor an extension says what
   * it is. Parsers without a sniffer are only chosen explicitly or as fallback.
   */
  sniff?(sample: Sample): boolean;
}

/** A format whose content is text: it receives the decoded, `\n`-normalized text. */
export interface TextFormatParser<Type extends MediaType = MediaType> extends ParserInfo<Type> {
  readonly kind: 'text';
  /** An encoding the bytes declare themselves (an HTML `<meta charset>`); UTF-8 otherwise. */
  charset?(bytes: Uint8Array): string | undefined;
  parse(text: string): ParsedBody | Promise<ParsedBody>;
}

/** A binary format (PDF, DOCX): it receives the raw bytes and always derives the text. */
export interface BinaryFormatParser<Type extends MediaType = MediaType> extends ParserInfo<Type> {
  readonly kind: 'binary';
  /** Leading bytes every valid file starts with; content without them is refused before parsing. */
  readonly magic: readonly number[];
  /** Names the format in messages, e.g. "a PDF". */
  readonly label: string;
  parse(bytes: Uint8Array): Promise<ParsedBody & { text: string }>;
}

export type FormatParser<Type extends MediaType = MediaType> =
  TextFormatParser<Type> | BinaryFormatParser<Type>;
