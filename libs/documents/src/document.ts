/**
 * Media types with a registered parser. Adding a format means adding its type here and its
 * parser to the table in `parsers/registry.ts`; the compiler then insists on both.
 */
export type MediaType =
  | 'text/plain'
  | 'text/markdown'
  | 'text/html'
  | 'application/pdf'
  | 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'
  | 'application/json'
  | 'application/x-ndjson'
  | 'text/csv'
  | 'text/tab-separated-values';

/** What a caller hands to {@link parseDocument} and {@link detectMediaType}. */
export interface DocumentInput {
  /** Raw bytes, or already-decoded text (text formats only: binary formats need their bytes). */
  content: string | Uint8Array;
  /** Declared media type, e.g. from a Content-Type header; parameters such as `charset` are ignored. */
  mediaType?: string;
  /** Original file name; only its extension is used, as a hint. */
  filename?: string;
}

/**
 * A run of the document under one heading (and, for paged formats, on one page). Offsets index
 * into {@link ParsedDocument.text}, and `text === document.text.slice(start, end)`; sections are
 * trimmed of surrounding whitespace and never overlap, and together they hold every
 * non-whitespace character of the document.
 */
export interface Section {
  /** Enclosing headings from outermost to innermost, e.g. `['Guide', 'Install']`; empty when none. */
  headingPath: string[];
  text: string;
  start: number;
  end: number;
  /** 1-based page number, for paged formats (PDF). */
  page?: number;
  /** The record (CSV row, JSON element, JSON Lines line) the section holds, for record formats. */
  record?: RecordLabel;
  /**
   * The section is tiny by nature (a record, a heading without a body): the chunker may pack it
   * with its packable neighbours into one chunk, so a document of many of them costs chunks in
   * proportion to its text rather than one embedding per line.
   */
  packable?: boolean;
}

/**
 * Which record a section holds: `row` counts CSV data rows from 1, `line` JSON Lines lines from
 * 1, `element` a top-level JSON array's elements from 0. Packed records are labelled as a range
 * (`rows 12-40`, `lines 7-9`, `$[3]-$[8]`).
 */
export interface RecordLabel {
  kind: 'row' | 'line' | 'element';
  n: number;
}

/** A decoded, normalized document split into sections. */
export interface ParsedDocument {
  mediaType: MediaType;
  /** Best-effort title; how it is found depends on the format (see each parser). */
  title?: string;
  /**
   * The document as text. For text formats (plain text, Markdown) it is the content as sent, BOM
   * removed and line endings normalized to `\n`; for the others it is the text extracted from it
   * (HTML main text, PDF text layer, DOCX paragraphs, JSON and CSV records as `field: value` lines).
   */
  text: string;
  /** In document order. */
  sections: Section[];
}
