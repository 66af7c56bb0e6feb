import type { EmbeddingProvider, EmbedOptions } from './provider.ts';

/** Options for {@link createBuiltinEmbedder}. */
export interface BuiltinEmbedderOptions {
  /** Number of hash buckets, i.e. the vector length. Default 384. */
  dimensions?: number;
}

/** The builtin embedder: {@link EmbeddingProvider} plus its synchronous core, for tests and benchmarks. */
export interface BuiltinEmbedder extends EmbeddingProvider {
  readonly dimensions: number;
  /** Embeds one text synchronously. Returns an L2-normalized vector, or all zeros for a text with no terms. */
  embedOne(text: string): Float32Array;
}

// Relative weights of the three feature kinds, chosen on SciFact and Cranfield (nDCG@10 at 384
// dimensions: 0.48 and 0.28). Unigrams carry the meaning. Character 4-grams of longer words match
// variants the stemmer misses ("aerodynamic" / "aerodynamically", "induce" / "inductive") and
// were worth +0.06 on SciFact. Bigrams reward exact phrases ("boundary layer"); they are kept
// light because in 384 buckets every extra feature also adds collision noise, and at weight 0.5
// they cost more than they gained.
const UNIGRAM_WEIGHT = 1;
const BIGRAM_WEIGHT = 0.15;
const CHARGRAM_WEIGHT = 0.3;
// Shorter words have too few 4-grams to add anything their unigram does not already say.
const CHARGRAM_MIN_LENGTH = 6;
const CHARGRAM_SIZE = 4;

// Distinct first bytes keep the three feature kinds in separate hash spaces: the unigram "heat" and
// the 4-gram "heat" of "heated" must not count as the same feature.
const UNIGRAM_TAG = 0x01;
const BIGRAM_TAG = 0x02;
const CHARGRAM_TAG = 0x03;
// Word-boundary markers for character grams, outside the range a token can contain.
const GRAM_START = 0x1c;
const GRAM_END = 0x1d;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

// A letter or number starts a token; combining marks stay attached to it so that decomposed accents
// (e + U+0301) do not split a word.
const TOKEN_START = /^[\p{L}\p{N}]$/u;
const TOKEN_PART = /^[\p{L}\p{N}\p{M}]$/u;

/**
 * The text's tokens, in order: a letter or number, then letters, numbers and combining marks. By
 * character code for ASCII (nearly every character of most texts), by the Unicode classes
 * otherwise; a character outside the basic plane is two code units (a surrogate pair).
 */
function tokensOf(text: string): string[] {
  const found: string[] = [];
  let start = -1;
  for (let i = 0; i < text.length;) {
    const code = text.charCodeAt(i);
    const next = code >= 0xd800 && code <= 0xdbff ? text.charCodeAt(i + 1) : 0;
    const width = next >= 0xdc00 && next <= 0xdfff ? 2 : 1;
    const inToken =
      code < 128
        ? (code >= 48 && code <= 57) || (code >= 97 && code <= 122) || (code >= 65 && code <= 90)
        : (start >= 0 ? TOKEN_PART : TOKEN_START).test(text.slice(i, i + width));
    if (inToken && start < 0) start = i;
    else if (!inToken && start >= 0) {
      found.push(text.slice(start, i));
      start = -1;
    }
    i += width;
  }
  if (start >= 0) found.push(text.slice(start));
  return found;
}

// Function words that match everywhere and so only add noise to a lexical vector. Deliberately
// small: query words like "effect", "increase" or "not" carry meaning in scientific text.
const STOPWORDS = new Set(
  (
    'a an and are as at be been being but by can could did do does doing for from had has have ' +
    'having he her here hers him his how i if in into is it its itself me my of on or our ours ' +
    'she so than that the their theirs them then there these they this those to too us was we ' +
    'were what when where which while who whom why will with would you your yours s t'
  ).split(' '),
);

/**
 * Creates the offline default embedder: a deterministic lexical feature-hashing model, not a
 * neural one. Texts sharing (stemmed) words and word pairs get similar vectors; synonyms do not.
 * The model id names the algorithm version and dimensions, so vectors from a changed algorithm
 * are never mixed with old ones.
 */
export function createBuiltinEmbedder({ dimensions = 384 }: BuiltinEmbedderOptions = {}): BuiltinEmbedder {
  if (!Number.isInteger(dimensions) || dimensions < 1) {
    throw new RangeError(`builtin embedder dimensions must be a positive integer, got ${dimensions}`);
  }
  const embedOne = createHashingEmbedder(dimensions);
  return {
    model: `hopper-hashing-v1-${dimensions}`,
    dimensions,
    embedOne,
    embed(texts: readonly string[], options?: EmbedOptions): Promise<Float32Array[]> {
      // Synchronous work cannot be interrupted, so an abort is honoured before it starts.
      if (options?.signal?.aborted) return Promise.reject(options.signal.reason as Error);
      return Promise.resolve(texts.map(embedOne));
    },
  };
}

function createHashingEmbedder(dimensions: number): (text: string) => Float32Array {
  // Term counts per feature hash, reused across calls: embedOne is synchronous, so no two calls
  // ever share them, and reuse avoids allocating three tables per chunk.
  const unigrams = new FeatureCounts();
  const bigrams = new FeatureCounts();
  const chargrams = new FeatureCounts();
  // What a token contributes besides its bigram: the same for every occurrence, so worked out once.
  const tokens = new Map<string, TokenFeatures | null>();

  return function embedOne(text: string): Float32Array {
    unigrams.clear();
    bigrams.clear();
    chargrams.clear();

    // NFKC folds compatibility forms (ligatures, full-width letters) into the letters people type.
    const normalized = text.normalize('NFKC').toLowerCase();
    let previous: number | undefined;
    for (const token of tokensOf(normalized)) {
      let features = tokens.get(token);
      if (features === undefined) {
        features = STOPWORDS.has(token) ? null : tokenFeatures(token);
        if (tokens.size >= MAX_CACHED_TOKENS) tokens.clear();
        tokens.set(token, features);
      }
      if (features === null) continue;
      unigrams.increment(features.unigram);
      if (previous !== undefined) {
        // The pair hash continues from the first term's hash, so no joined string is built.
        const { term } = features;
        bigrams.increment(hashString(hashByte(previous, 0x20), term, 0, term.length));
      }
      previous = features.bigramStart;
      for (const gram of features.chargrams) chargrams.increment(gram);
    }

    const vector = new Float32Array(dimensions);
    unigrams.accumulate(vector, UNIGRAM_WEIGHT);
    bigrams.accumulate(vector, BIGRAM_WEIGHT);
    chargrams.accumulate(vector, CHARGRAM_WEIGHT);
    return normalize(vector);
  };
}

/** Distinct tokens whose features are remembered; past it the memory starts afresh. */
const MAX_CACHED_TOKENS = 50_000;

interface TokenFeatures {
  /** The stemmed term. */
  term: string;
  unigram: number;
  /** The term's hash as the first of a pair. */
  bigramStart: number;
  chargrams: readonly number[];
}

function tokenFeatures(token: string): TokenFeatures {
  const term = stem(token);
  const chargrams: number[] = [];
  if (token.length >= CHARGRAM_MIN_LENGTH) addChargrams(chargrams, token);
  return {
    term,
    unigram: hashString(hashByte(FNV_OFFSET, UNIGRAM_TAG), term, 0, term.length),
    bigramStart: hashString(hashByte(FNV_OFFSET, BIGRAM_TAG), term, 0, term.length),
    chargrams,
  };
}

/**
 * Counts per feature hash, in the order the hashes were first seen (as a Map's iteration would
 * give them, which the vector's float sums depend on), in typed arrays reused from text to text:
 * an open-addressing table of slots into the insertion-ordered hashes and counts.
 */
class FeatureCounts {
  #slots = new Int32Array(1024).fill(-1);
  #hashes = new Uint32Array(512);
  #counts = new Uint32Array(512);
  #size = 0;

  clear(): void {
    if (this.#size > 0) this.#slots.fill(-1);
    this.#size = 0;
  }

  increment(hash: number): void {
    const mask = this.#slots.length - 1;
    let at = fmix32(hash) & mask;
    for (;;) {
      const entry = this.#slots[at] as number;
      if (entry < 0) break;
      if (this.#hashes[entry] === hash) {
        this.#counts[entry] = (this.#counts[entry] as number) + 1;
        return;
      }
      at = (at + 1) & mask;
    }
    const entry = this.#size++;
    this.#slots[at] = entry;
    this.#hashes[entry] = hash;
    this.#counts[entry] = 1;
    // Kept at most half full, so the hashes and counts (half the slots) always have room.
    if (this.#size * 2 >= this.#slots.length) this.#grow();
  }

  /** Adds each feature with sublinear tf weight (1 + ln tf) into its signed bucket. */
  accumulate(vector: Float32Array, weight: number): void {
    const dimensions = vector.length;
    for (let entry = 0; entry < this.#size; entry++) {
      const mixed = fmix32(this.#hashes[entry] as number);
      // The bucket comes from the low 31 bits and the sign from the top bit, so they are
      // independent; random signs make collisions cancel out on average instead of inflating
      // similarity.
      const bucket = (mixed & 0x7fffffff) % dimensions;
      const sign = mixed & 0x80000000 ? -1 : 1;
      vector[bucket] = (vector[bucket] ?? 0) + sign * weight * (1 + Math.log(this.#counts[entry] as number));
    }
  }

  #grow(): void {
    const capacity = this.#slots.length * 2;
    const hashes = new Uint32Array(capacity / 2);
    hashes.set(this.#hashes);
    this.#hashes = hashes;
    const counts = new Uint32Array(capacity / 2);
    counts.set(this.#counts);
    this.#counts = counts;
    this.#slots = new Int32Array(capacity).fill(-1);
    const mask = capacity - 1;
    for (let entry = 0; entry < this.#size; entry++) {
      let at = fmix32(this.#hashes[entry] as number) & mask;
      while ((this.#slots[at] as number) >= 0) at = (at + 1) & mask;
      this.#slots[at] = entry;
    }
  }
}

/** Adds the character 4-grams of `^token$`, hashed in place without building substrings. */
function addChargrams(grams: number[], token: string): void {
  // Positions run over the token plus one boundary marker on each side.
  const padded = token.length + 2;
  for (let start = 0; start + CHARGRAM_SIZE <= padded; start++) {
    let hash = hashByte(FNV_OFFSET, CHARGRAM_TAG);
    if (start === 0) hash = hashByte(hash, GRAM_START);
    const from = Math.max(0, start - 1);
    const to = Math.min(token.length, start - 1 + CHARGRAM_SIZE);
    hash = hashString(hash, token, from, to);
    if (start + CHARGRAM_SIZE === padded) hash = hashByte(hash, GRAM_END);
    grams.push(hash);
  }
}

function normalize(vector: Float32Array): Float32Array {
  let sum = 0;
  for (const value of vector) sum += value * value;
  // An empty or stopword-only text stays the zero vector rather than dividing by zero into NaN.
  if (sum === 0) return vector;
  const scale = 1 / Math.sqrt(sum);
  for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] ?? 0) * scale;
  return vector;
}

/**
 * Light English suffix stripping: plurals, -ing, -ed, -ly and a final -e, so that "documents",
 * "documented" and "document" share a term. Far cruder than Porter; the aim is only that common
 * inflections of the same word meet. Tokens with digits ("p53s", "1990s") are left alone.
 */
export function stem(token: string): string {
  if (token.length <= 3 || /\P{L}/u.test(token)) return token;
  let word = token;

  if (word.endsWith('ies') || word.endsWith('ied')) {
    if (word.length > 4) word = word.slice(0, -3) + 'y';
  } else if (word.endsWith('s') && !/(?:ss|us|is)$/.test(word)) {
    // "-es" loses only its "s" here; the final-e rule below finishes "boxes" -> "box".
    word = word.slice(0, -1);
  }

  if (word.endsWith('ing') && hasVowel(word, word.length - 3) && word.length - 3 >= 3) {
    word = undouble(word.slice(0, -3));
  } else if (
    word.endsWith('ed') &&
    !word.endsWith('eed') &&
    word.length - 2 >= 3 &&
    hasVowel(word, word.length - 2)
  ) {
    word = undouble(word.slice(0, -2));
  } else if (word.endsWith('ly') && word.length - 2 >= 4) {
    const before = word.charAt(word.length - 3);
    // Words like "apply", "family", "anomaly", "assembly", "ally" end in -ly but are not adverbs;
    // "-ally" adverbs ("typically") are, and keep their "-al".
    if (!'aipbl'.includes(before) || word.endsWith('ally')) word = word.slice(0, -2);
  }

  if (word.length >= 4 && word.endsWith('e')) word = word.slice(0, -1);
  return word;
}

function hasVowel(word: string, end: number): boolean {
  for (let i = 0; i < end; i++) {
    if ('aeiouy'.includes(word.charAt(i))) return true;
  }
  return false;
}

/** "stopp" -> "stop", "runn" -> "run"; l, s and z doubles are usually part of the word ("fall"). */
function undouble(word: string): string {
  const last = word.charAt(word.length - 1);
  if (word.length >= 3 && last === word.charAt(word.length - 2) && !'aeioulsz'.includes(last)) {
    return word.slice(0, -1);
  }
  return word;
}

function hashByte(hash: number, byte: number): number {
  return Math.imul(hash ^ byte, FNV_PRIME) >>> 0;
}

/** FNV-1a over the UTF-8 bytes of `text[from, to)`, encoded on the fly so no buffer is allocated. */
function hashString(hash: number, text: string, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    let code = text.charCodeAt(i);
    if (code < 0x80) {
      hash = hashByte(hash, code);
      continue;
    }
    if (code >= 0xd800 && code < 0xdc00 && i + 1 < to) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low < 0xe000) {
        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    if (code < 0x800) {
      hash = hashByte(hash, 0xc0 | (code >> 6));
    } else if (code < 0x10000) {
      hash = hashByte(hash, 0xe0 | (code >> 12));
      hash = hashByte(hash, 0x80 | ((code >> 6) & 0x3f));
    } else {
      hash = hashByte(hash, 0xf0 | (code >> 18));
      hash = hashByte(hash, 0x80 | ((code >> 12) & 0x3f));
      hash = hashByte(hash, 0x80 | ((code >> 6) & 0x3f));
    }
    hash = hashByte(hash, 0x80 | (code & 0x3f));
  }
  return hash;
}

/** Murmur3's finalizer: FNV's low bits mix poorly, and bucket choice depends on them. */
function fmix32(hash: number): number {
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
