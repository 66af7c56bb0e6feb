import { findBreak, hardBreak, overlapStart, skipWhitespace, trimEnd } from './boundaries.ts';
import type { ParsedDocument, Section } from './document.ts';
import { DocumentError } from './errors.ts';
import { recordRangeLabel } from './parsers/records.ts';

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
  /**
   * Heading path of the section the chunk lies in. A chunk spans two sections only when they are
   * packed tiny ones: records (the path is their range, `rows 12-40`) or headings without a
   * body (the path is what their paths share; the headings themselves are in the text).
   */
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
 * Work is bounded by the document: consecutive tiny sections the parser marked packable (records,
 * headings without a body) share chunks up to `maxChars`, and a document would otherwise make
 * more chunks than {@link maxChunksFor} allows for its length (it is made of many tiny sections),
 * every section that fits is packed with its neighbours.
 *
 * @throws {RangeError} when the options are out of range.
 * @throws {DocumentError} `too_complex` when even packed the document needs more chunks than its
 *   length allows (only a paged document with a sliver of text on very many pages gets there).
 */
export function chunkDocument(doc: ParsedDocument, options: ChunkOptions = {}): Chunk[] {
  const { maxChars, overlapChars } = resolveChunkOptions(options);
  const ceiling = maxChunksFor(doc.text.length, maxChars, overlapChars);
  const spans =
    planChunks(doc, maxChars, overlapChars, false, ceiling) ??
    planChunks(doc, maxChars, overlapChars, true, ceiling);
  if (spans === undefined) {
    throw new DocumentError(
      'too_complex',
      `The document would make more than ${ceiling.toLocaleString('en-US')} chunks, the most its ` +
        `${doc.text.length.toLocaleString('en-US')} characters of text allow: it is made of very many ` +
        'tiny sections or pages. Merge them, or send the text as text/plain.',
    );
  }
  return spans.map((span, index) => ({
    index,
    text: doc.text.slice(span.start, span.end),
    headingPath: [...span.headingPath],
    start: span.start,
    end: span.end,
    ...(span.page === undefined ? {} : { page: span.page }),
  }));
}

/**
 * Most chunks a document of `textLength` characters may make: eight times what chunks that
 * advance by `maxChars - overlapChars` make, plus a few. Well above what prose chunks into (about
 * one chunk per `maxChars - overlapChars` characters), far below one chunk per line: a 2.4 MB
 * document of one-line headings makes at most ~18,000 chunks at the defaults rather than 200,000
 * embeddings.
 */
export function maxChunksFor(textLength: number, maxChars: number, overlapChars: number): number {
  return 16 + Math.ceil((8 * textLength) / Math.max(1, maxChars - overlapChars));
}

interface Span {
  start: number;
  end: number;
  headingPath: readonly string[];
  page: number | undefined;
}

/**
 * The chunks' ranges, or `undefined` as soon as there would be more than `ceiling`. With
 * `packAll`, every section no longer than `maxChars` may be packed, not only the packable ones.
 */
function planChunks(
  doc: ParsedDocument,
  maxChars: number,
  overlapChars: number,
  packAll: boolean,
  ceiling: number,
): Span[] | undefined {
  const { sections } = doc;
  const spans: Span[] = [];
  const fits = (section: Section): boolean =>
    (packAll || section.packable === true) && section.end - section.start <= maxChars;
  for (let i = 0; i < sections.length;) {
    const first = sections[i];
    if (first === undefined) break;
    let next = i + 1;
    if (fits(first)) {
      for (let candidate = sections[next]; candidate !== undefined; candidate = sections[next]) {
        if (!fits(candidate) || candidate.page !== first.page || candidate.end - first.start > maxChars)
          break;
        next++;
      }
    }
    if (next - i > 1) {
      const last = sections[next - 1] ?? first;
      spans.push({
        start: first.start,
        end: last.end,
        headingPath: packedPath(sections, i, next),
        page: first.page,
      });
    } else {
      for (const [start, end] of splitRange(doc.text, first.start, first.end, maxChars, overlapChars)) {
        spans.push({ start, end, headingPath: first.headingPath, page: first.page });
      }
    }
    if (spans.length > ceiling) return undefined;
    i = next;
  }
  return spans;
}

/**
 * The heading path of sections `[from, to)` packed into one chunk: the range of their records
 * (`rows 12-40`), else the part of their heading paths they share.
 */
function packedPath(sections: readonly Section[], from: number, to: number): string[] {
  const first = sections[from];
  const last = sections[to - 1];
  if (first === undefined || last === undefined) return [];
  if (first.record !== undefined && last.record !== undefined && first.record.kind === last.record.kind) {
    return [recordRangeLabel(first.record, last.record)];
  }
  let shared = first.headingPath.length;
  for (let i = from + 1; i < to && shared > 0; i++) {
    const path = sections[i]?.headingPath ?? [];
    let same = 0;
    while (same < shared && same < path.length && path[same] === first.headingPath[same]) same++;
    shared = same;
  }
  return first.headingPath.slice(0, shared);
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
