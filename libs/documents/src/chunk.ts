import { findBreak, hardBreak, overlapStart, skipWhitespace, trimEnd } from './boundaries.ts';
import type { ParsedDocument } from './document.ts';

/** Options for {@link chunkDocument}. */
export interface ChunkOptions {
  /** Longest chunk, in UTF-16 code units. Default 1200, a few paragraphs: enough context per hit. */
  maxChars?: number;
  /**
   * How much of the previous chunk's tail a chunk may repeat, so a sentence cut by a chunk
   * boundary is still whole in one of them. Must be less than `maxChars / 2` so every chunk
   * mostly holds new text. Default 150, or `maxChars / 8` when that is smaller.
   */
  overlapChars?: number;
}

/** A piece of a document sized for embedding. */
export interface Chunk {
  /** Position in document order, from 0. */
  index: number;
  /** Exactly `document.text.slice(start, end)`; starts and ends on non-whitespace. */
  text: string;
  /** Heading path of the section the chunk lies in; a chunk never spans two sections. */
  headingPath: string[];
  start: number;
  end: number;
  /** 1-based page of the section the chunk lies in, for paged formats (PDF). */
  page?: number;
}

const DEFAULT_MAX_CHARS = 1200;
const DEFAULT_OVERLAP_CHARS = 150;

/**
 * Splits a parsed document into chunks of at most `maxChars`, one section at a time so a chunk
 * never crosses a heading. Within a section, small paragraphs are packed together and cuts fall
 * on a paragraph break, else a sentence end, else a line break, else whitespace (the first three
 * only when the chunk gets at least a quarter of `maxChars`, so a heading line travels with the
 * text under it); a word is only cut when it alone is longer than `maxChars`. Each chunk after the first in a section starts up
 * to `overlapChars` before the previous one ended, at a sentence or word start. Every
 * non-whitespace character of the document is in at least one chunk. Deterministic, and linear
 * in the document length.
 *
 * @throws {RangeError} when the options are out of range.
 */
export function chunkDocument(doc: ParsedDocument, options: ChunkOptions = {}): Chunk[] {
  const { maxChars, overlapChars } = resolveChunkOptions(options);
  const chunks: Chunk[] = [];
  for (const section of doc.sections) {
    for (const [start, end] of splitRange(doc.text, section.start, section.end, maxChars, overlapChars)) {
      chunks.push({
        index: chunks.length,
        text: doc.text.slice(start, end),
        headingPath: [...section.headingPath],
        start,
        end,
        ...(section.page === undefined ? {} : { page: section.page }),
      });
    }
  }
  return chunks;
}

/**
 * The text to embed and index for a chunk: the document title and the heading path joined by
 * `' > '` on the first line, then the chunk, so a passage like "Run `npm install`" is found by a
 * query about the section and document it sits in. The title is left out when the heading path
 * already starts with it; the chunk text alone when there is neither.
 */
export function chunkEmbeddingText(chunk: Chunk, title?: string): string {
  const context =
    title !== undefined && title.trim() !== '' && chunk.headingPath[0] !== title
      ? [title.trim(), ...chunk.headingPath]
      : chunk.headingPath;
  return context.length === 0 ? chunk.text : `${context.join(' > ')}\n${chunk.text}`;
}

/**
 * Fills in the defaults of chunking options and checks them; what {@link chunkDocument} will use.
 *
 * @throws {RangeError} when the options are out of range, with a message for the person who set them.
 */
export function resolveChunkOptions(options: ChunkOptions = {}): Required<ChunkOptions> {
  const maxChars = options.maxChars ?? DEFAULT_MAX_CHARS;
  if (!Number.isSafeInteger(maxChars) || maxChars < 1) {
    throw new RangeError(`maxChars must be a positive integer, got ${String(options.maxChars)}`);
  }
  // Scaled down for small maxChars so setting maxChars alone never makes the default invalid.
  const overlapChars = options.overlapChars ?? Math.min(DEFAULT_OVERLAP_CHARS, Math.floor(maxChars / 8));
  if (!Number.isSafeInteger(overlapChars) || overlapChars < 0) {
    throw new RangeError(`overlapChars must be a non-negative integer, got ${String(options.overlapChars)}`);
  }
  if (overlapChars * 2 >= maxChars) {
    throw new RangeError(
      `overlapChars must be less than half of maxChars (${maxChars}), got ${overlapChars}; ` +
        'lower overlapChars or raise maxChars',
    );
  }
  return { maxChars, overlapChars };
}

/** `[start, end)` pairs covering the non-whitespace of `text[from, to)`. */
function splitRange(
  text: string,
  from: number,
  to: number,
  maxChars: number,
  overlapChars: number,
): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  // Sections are already trimmed; this keeps hand-built documents from yielding a repeat chunk.
  const last = trimEnd(text, from, to);
  let start = skipWhitespace(text, from, last);
  // End of the content already chunked; the next chunk must reach past it.
  let covered = start;
  while (start < last) {
    let cut = last;
    if (last - start > maxChars) {
      const limit = start + maxChars;
      const progress = Math.max(start, skipWhitespace(text, covered, last));
      const found = findBreak(text, start, limit, progress, maxChars);
      if (found === undefined && start < covered) {
        // The overlap left no room to end on a word boundary past the covered text (a long word
        // follows it): give up the overlap for this chunk rather than cut the word.
        start = skipWhitespace(text, covered, last);
        continue;
      }
      cut = found ?? hardBreak(text, start, limit);
    }
    const end = trimEnd(text, start, cut);
    spans.push([start, end]);
    if (cut >= last) break;
    covered = end;
    start = overlapStart(text, start, end, overlapChars) ?? skipWhitespace(text, cut, last);
  }
  return spans;
}
