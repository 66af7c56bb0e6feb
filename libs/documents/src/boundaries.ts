// Where text may be cut. Positions are offsets between characters: "a break at p" ends a chunk
// at p (exclusive). Everything works on char codes over a bounded window, so chunking stays
// linear in the document length.

const SENTENCE_STOPS = new Set(['.', '!', '?', '…']);
// Ideographic full stops end sentences without a following space.
const CJK_STOPS = new Set(['。', '！', '？']);
// Closing marks that may sit between a sentence stop and the space after it: `end." Next`.
const CLOSERS = new Set(['"', "'", ')', ']', '}', '”', '’', '»', '*', '_']);

/**
 * A break may leave a chunk this fraction of `maxChars` short. Below it, a paragraph or sentence
 * break is passed over for a later, weaker one, so that a heading line or a one-line paragraph
 * is packed with the text that follows instead of becoming a chunk of its own.
 */
const MIN_FILL = 0.25;

/** Same set as the regular expression `\s`, so "non-whitespace" means the same everywhere. */
export function isWhitespace(code: number): boolean {
  return (
    code === 32 ||
    (code >= 9 && code <= 13) ||
    (code >= 0x80 &&
      (code === 0xa0 ||
        code === 0x1680 ||
        (code >= 0x2000 && code <= 0x200a) ||
        code === 0x2028 ||
        code === 0x2029 ||
        code === 0x202f ||
        code === 0x205f ||
        code === 0x3000 ||
        code === 0xfeff))
  );
}

/** First non-whitespace offset in `[from, to)`, or `to`. */
export function skipWhitespace(text: string, from: number, to: number): number {
  let i = from;
  while (i < to && isWhitespace(text.charCodeAt(i))) i++;
  return i;
}

/** Moves `end` back over whitespace, not past `start`. */
export function trimEnd(text: string, start: number, end: number): number {
  let i = end;
  while (i > start && isWhitespace(text.charCodeAt(i - 1))) i--;
  return i;
}

/**
 * The best place to end a chunk that starts at `start` and may reach `limit` (a whitespace or the
 * end of a character at `limit` still counts). Prefers, in order: the last paragraph break (blank
 * line), sentence end, line break, then any whitespace. Only breaks after `progress` qualify, so
 * the chunk always ends past the content the previous chunk covered. Returns `undefined` when
 * the window holds no whitespace at all, i.e. the only way to cut is inside a word.
 */
export function findBreak(
  text: string,
  start: number,
  limit: number,
  progress: number,
  maxChars: number,
): number | undefined {
  const minFillEnd = start + Math.ceil(maxChars * MIN_FILL);
  let sentence: number | undefined;
  let line: number | undefined;
  let space: number | undefined;
  for (let p = limit; p > progress; p--) {
    const full = p >= minFillEnd;
    if (!full && space !== undefined) break;
    if (!isWhitespace(text.charCodeAt(p))) {
      if (full && sentence === undefined && CJK_STOPS.has(text.charAt(p - 1))) sentence = p;
      continue;
    }
    space ??= p;
    if (!full) continue;
    if (text.charCodeAt(p) === 10) {
      if (startsBlankLine(text, p + 1)) return p;
      line ??= p;
    }
    if (sentence === undefined && endsSentence(text, p)) sentence = p;
  }
  return sentence ?? line ?? space;
}

/**
 * Where a chunk cut inside a word (only ever a single word longer than `maxChars`) ends: at
 * `limit`, stepping back rather than splitting a surrogate pair.
 */
export function hardBreak(text: string, start: number, limit: number): number {
  const low = text.charCodeAt(limit);
  const high = text.charCodeAt(limit - 1);
  const splitsPair = low >= 0xdc00 && low <= 0xdfff && high >= 0xd800 && high <= 0xdbff;
  return splitsPair && limit - 1 > start ? limit - 1 : limit;
}

/**
 * Where the chunk after `[previousStart, previousEnd)` starts so that it repeats up to
 * `overlapChars` of its tail: the first sentence start in the first half of that tail (whole
 * sentences read better), else its first word start. `undefined` when the tail holds no word
 * start, e.g. after a cut inside a long word.
 */
export function overlapStart(
  text: string,
  previousStart: number,
  previousEnd: number,
  overlapChars: number,
): number | undefined {
  if (overlapChars === 0) return undefined;
  const from = Math.max(previousEnd - overlapChars, previousStart + 1);
  const middle = from + (previousEnd - from) / 2;
  let word: number | undefined;
  for (let i = from; i < previousEnd; i++) {
    if (isWhitespace(text.charCodeAt(i))) continue;
    const afterStop = CJK_STOPS.has(text.charAt(i - 1));
    if (!afterStop && !isWhitespace(text.charCodeAt(i - 1))) continue;
    if (i >= middle) return word ?? i;
    if (afterStop || startsSentence(text, i)) return i;
    word ??= i;
  }
  return word;
}

function startsBlankLine(text: string, from: number): boolean {
  let i = from;
  while (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9) i++;
  return text.charCodeAt(i) === 10;
}

/** Whether the text before whitespace at `p` ends a sentence. */
function endsSentence(text: string, p: number): boolean {
  let j = p - 1;
  // Bounded: a sentence stop is followed by at most a few closing marks.
  for (let k = 0; k < 4 && j > 0 && CLOSERS.has(text.charAt(j)); k++) j--;
  return SENTENCE_STOPS.has(text.charAt(j));
}

/** Whether the word at `i` opens a sentence or paragraph (`i` follows whitespace). */
function startsSentence(text: string, i: number): boolean {
  let j = i - 1;
  let newlines = 0;
  while (j >= 0 && isWhitespace(text.charCodeAt(j))) {
    if (text.charCodeAt(j) === 10) newlines++;
    j--;
  }
  return newlines >= 2 || (j >= 0 && endsSentence(text, j + 1));
}
