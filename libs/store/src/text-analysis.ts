import { stem } from 'porter2';

/**
 * Snowball's English stop words (the list LanceDB's full-text index removes), without the forms
 * with an apostrophe: the tokenizer splits those at it.
 */
const STOP_WORDS = new Set(
  (
    'i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she ' +
    'her hers herself it its itself they them their theirs themselves what which who whom this that ' +
    'these those am is are was were be been being have has had having do does did doing would should ' +
    'could ought cannot a an the and but if or because as until while of at by for with about against ' +
    'between into through during before after above below to from up down in out on off over under ' +
    'again further then once here there when where why how all any both each few more most other some ' +
    'such no nor not only own same so than too very'
  ).split(' '),
);

/** Tokens this long or longer are dropped (LanceDB's `max_token_length`): hashes, base64, URLs' innards. */
const MAX_TOKEN_LENGTH = 40;

/** A letter or a digit, for characters outside ASCII (ASCII is tested by code). */
const WORD_CHARACTER = /^[\p{L}\p{N}]$/u;
/** Words seen and their terms: a corpus repeats its words, and stemming is most of the cost. */
const TERMS = new Map<string, string | null>();
const MAX_CACHED_WORDS = 200_000;
const MARKS = /\p{M}/gu;

/**
 * The terms of a text as the in-memory full-text index sees them, the analysis LanceDB's index
 * is built with (maintenance.ts, `Index.fts`): words split at anything that is not a letter or a
 * digit, lower-cased, English stop words removed, stemmed (Porter2, Snowball's English stemmer),
 * folded to ASCII where a letter has a plain form (é → e). In text order, repeats kept.
 */
export function analyzeText(text: string): string[] {
  const terms: string[] = [];
  for (const word of words(text)) {
    const term = termOf(word);
    if (term !== null) terms.push(term);
  }
  return terms;
}

/** A text's words: runs of letters and digits, lower-cased, in order. */
export function words(text: string): string[] {
  const found: string[] = [];
  let start = -1;
  for (let i = 0; i < text.length;) {
    const code = text.charCodeAt(i);
    // A character outside the basic plane is two code units.
    const width = code >= 0xd800 && code <= 0xdbff && i + 1 < text.length ? 2 : 1;
    const inWord =
      code < 128
        ? (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122)
        : WORD_CHARACTER.test(text.slice(i, i + width));
    if (inWord && start < 0) start = i;
    if (!inWord && start >= 0) {
      found.push(text.slice(start, i).toLowerCase());
      start = -1;
    }
    i += width;
  }
  if (start >= 0) found.push(text.slice(start).toLowerCase());
  return found;
}

/** A lower-cased word's term, or `null` for a stop word or a token too long to index. */
export function termOf(word: string): string | null {
  let term = TERMS.get(word);
  if (term === undefined) {
    term = word.length >= MAX_TOKEN_LENGTH || STOP_WORDS.has(word) ? null : foldToAscii(stem(word));
    if (TERMS.size >= MAX_CACHED_WORDS) TERMS.clear();
    TERMS.set(word, term);
  }
  return term;
}

function foldToAscii(term: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\u0000-\u007f]*$/.test(term) ? term : term.normalize('NFKD').replace(MARKS, '');
}
