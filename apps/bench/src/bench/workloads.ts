import { BENCH_COLLECTION } from './corpus/corpus.ts';
import type { BodyOf } from '../load/load-generator.ts';
import { toolCallBody } from '../load/mcp-wire.ts';
import { SyntheticText, randomGenerator } from './corpus/synthetic-text.ts';

/** The collection ingest scenarios write to: writes to it leave the bench collection's cache alone. */
export const INGEST_COLLECTION = 'bench-ingest';
/** Distinct queries of the cached-search scenario: few enough that every one is in the cache. */
const CACHED_QUERIES = 32;

const FILL = '@@fill@@';

/**
 * A request body with string holes (`FILL` in `args`), filled per call by concatenation, in
 * order. What fills them must be JSON string content: escaped, unless it is plain words.
 */
function bodyTemplate(tool: string, args: Record<string, unknown>): (...fills: string[]) => string {
  const parts = toolCallBody(1, tool, args).split(FILL);
  return (...fills) => {
    let body = parts[0] as string;
    for (let i = 1; i < parts.length; i++) body += (fills[i - 1] ?? '') + (parts[i] as string);
    return body;
  };
}

/** JSON string content of `text` (what goes between the quotes). */
const escapeJson = (text: string) => JSON.stringify(text).slice(1, -1);

/** Requests for each scenario. `runId` keeps this run's calls apart from any earlier run's. */
export class Workloads {
  readonly #text = new SyntheticText();
  readonly #runId: string;
  readonly #seed: number;
  readonly #queryRandom: () => number;
  /** Steps that asked for bodies so far: part of every unique id, so no two steps share one. */
  #steps = 0;
  /** The cached scenario's queries, also used to warm the cache. */
  readonly cachedQueries: string[];

  constructor(runId: string) {
    this.#runId = runId;
    this.#seed = Number.parseInt(runId.slice(0, 8), 36) || 1;
    const random = randomGenerator(this.#seed);
    this.cachedQueries = Array.from({ length: CACHED_QUERIES }, () => this.#text.query(random));
    this.#queryRandom = randomGenerator(this.#seed + 1);
  }

  /** The same few queries over and over: every call after the warm-up is a cache hit. */
  cachedSearch(topK = 5): BodyOf {
    const template = bodyTemplate('search', { query: FILL, topK, collection: BENCH_COLLECTION });
    const bodies = this.cachedQueries.map((query) => template(query));
    return (client, n) => bodies[(client * 7 + n) % bodies.length] as string;
  }

  /**
   * A fresh random query every call: neither the result nor the embedding cache can answer. One
   * random sequence serves every step of the run, so no step repeats an earlier step's queries.
   */
  uncachedSearch(topK = 5): BodyOf {
    const template = bodyTemplate('search', { query: FILL, topK, collection: BENCH_COLLECTION });
    const random = this.#queryRandom;
    // Two to four words of 2,970 give ~10^13 combinations: a repeat within a run is negligible.
    return () => template(this.#text.query(random));
  }

  searchArguments(query: string, topK = 5): Record<string, unknown> {
    return { query, topK, collection: BENCH_COLLECTION };
  }

  getJob(jobId: string): BodyOf {
    const body = toolCallBody(1, 'get_job', { jobId });
    return () => body;
  }

  /** Four short texts (~120 characters), new every call, so the embedding cache never answers. */
  smallEmbed(): BodyOf {
    const template = bodyTemplate('embed_texts', { texts: [FILL] });
    const random = randomGenerator(this.#seed + 99);
    const sentences = Array.from({ length: 64 }, () => this.#text.sentence(random));
    const step = ++this.#steps;
    return (client, n) => {
      const texts = [0, 1, 2, 3].map(
        (i) => `${this.#runId} ${step} ${client} ${n} ${i} ${sentences[(n + i) % sentences.length]}`,
      );
      return template(texts.join('","'));
    };
  }

  /**
   * `ingest_document` with `wait: false` of a Markdown document of `bytes` bytes, a new document
   * id and content every call (the same content twice would be the same job).
   */
  ingestNoWait(bytes: number): BodyOf {
    const random = randomGenerator(this.#seed + bytes);
    const body = escapeJson(this.#text.document(random, 'Acknowledged', bytes).slice(0, bytes));
    const template = bodyTemplate('ingest_document', {
      content: FILL,
      documentId: FILL,
      collection: INGEST_COLLECTION,
      wait: false,
    });
    const step = ++this.#steps;
    return (client, n) => {
      const id = `ack-${this.#runId}-${step}-${client}-${n}`;
      return template(`${id}\\n${body}`, id);
    };
  }

  /** The id prefix of the documents `document(kind, …)` makes. */
  documentPrefix(kind: string): string {
    return `${kind}-${this.#runId}-`;
  }

  /** A Markdown document of ~`chars` characters, the `index`-th of its kind in this run. */
  document(kind: string, index: number, chars: number): { documentId: string; content: string } {
    const random = randomGenerator(this.#seed + 10_000 + index);
    const documentId = `${this.documentPrefix(kind)}${index}`;
    return { documentId, content: this.#text.document(random, documentId, chars) };
  }
}
