/**
 * Deterministic synthetic text for the benchmark corpus and its queries. Words are drawn from a
 * vocabulary of pronounceable made-up words with Zipf-distributed frequencies, as in natural
 * language: a few words are in most chunks, most words in few. That shapes the full-text index's
 * posting lists and the lexical embedder's vectors the way real text does, which a corpus cycling
 * through a few dozen words (every query matching every chunk) would not.
 */

const VOCABULARY_SIZE = 12_000;
/** Zipf exponent of word frequencies; about 1 for English. */
const ZIPF_EXPONENT = 1.05;
const ONSETS = ['b', 'c', 'd', 'f', 'g', 'h', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'br', 'st', 'tr'];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ou'];
const CODAS = ['', '', 'n', 'r', 's', 'l', 'th'];

/** A small, fast, seedable PRNG (mulberry32): the same seed gives the same text on every machine. */
export function randomGenerator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export class SyntheticText {
  readonly words: string[];
  readonly #cumulative: Float64Array;

  constructor(seed = 1) {
    const random = randomGenerator(seed);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
    const seen = new Set<string>();
    this.words = [];
    while (this.words.length < VOCABULARY_SIZE) {
      const syllables = 2 + Math.floor(random() * 3);
      let word = '';
      for (let s = 0; s < syllables; s++) word += pick(ONSETS) + pick(VOWELS) + pick(CODAS);
      if (!seen.has(word)) {
        seen.add(word);
        this.words.push(word);
      }
    }
    this.#cumulative = new Float64Array(VOCABULARY_SIZE);
    let total = 0;
    for (let rank = 0; rank < VOCABULARY_SIZE; rank++) {
      total += 1 / (rank + 1) ** ZIPF_EXPONENT;
      this.#cumulative[rank] = total;
    }
    for (let rank = 0; rank < VOCABULARY_SIZE; rank++) {
      this.#cumulative[rank] = (this.#cumulative[rank] ?? 0) / total;
    }
  }

  /** A word drawn by frequency. */
  word(random: () => number): string {
    const target = random();
    let low = 0;
    let high = VOCABULARY_SIZE - 1;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.#cumulative[mid] ?? 1) < target) low = mid + 1;
      else high = mid;
    }
    return this.words[low] as string;
  }

  sentence(random: () => number): string {
    const length = 8 + Math.floor(random() * 10);
    const words = Array.from({ length }, () => this.word(random));
    const first = words[0] ?? '';
    words[0] = first.charAt(0).toUpperCase() + first.slice(1);
    return `${words.join(' ')}.`;
  }

  paragraph(random: () => number): string {
    return Array.from({ length: 3 + Math.floor(random() * 4) }, () => this.sentence(random)).join(' ');
  }

  /**
   * A query as a person types it: two to four words of middling frequency (ranks 30 to 3,000),
   * which appear in some chunks but not in most.
   */
  query(random: () => number): string {
    const length = 2 + Math.floor(random() * 3);
    return Array.from({ length }, () => this.words[30 + Math.floor(random() * 2_970)]).join(' ');
  }

  /** A Markdown document of about `chars` characters: a title, sections and paragraphs. */
  document(random: () => number, title: string, chars: number): string {
    const parts = [`# ${title}`];
    let size = parts[0]?.length ?? 0;
    let section = 0;
    while (size < chars) {
      const heading = `## ${++section}. ${this.word(random)} ${this.word(random)}`;
      parts.push(heading);
      size += heading.length + 2;
      for (let p = 0; p < 4 && size < chars; p++) {
        const paragraph = this.paragraph(random);
        parts.push(paragraph);
        size += paragraph.length + 2;
      }
    }
    return parts.join('\n\n');
  }
}
