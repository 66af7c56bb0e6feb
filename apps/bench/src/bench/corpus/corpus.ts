import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { contentHash } from '@hopper/contracts';
import { chunkDocument, chunkEmbeddingText, parseDocument } from '@hopper/documents';
import { createEmbeddingProvider } from '@hopper/embeddings';
import { openStoreWriter, type ChunkInput, type DocumentInput } from '@hopper/store';
import { SyntheticText, randomGenerator } from './synthetic-text.ts';

/** The tenant of a stack in local mode (no API keys): the corpus must be written as it. */
export const LOCAL_TENANT = 'local';
/** The collection the bench loads and searches, so a run against a deployment touches nothing else. */
export const BENCH_COLLECTION = 'bench';
/**
 * A corpus has 100 documents (or more, for small ones: at least 100 chunks each). Each write
 * replaces a whole document in one merge whose cost grows with the table, so 100k chunks written
 * as 1,000 documents took minutes where 100 larger ones take well under one.
 */
const DOCUMENTS = 100;
const MIN_CHUNKS_PER_DOCUMENT = 100;
/** Characters of generated text per chunk wanted: the default chunker's chunks are 1,200 at most. */
const CHARS_PER_CHUNK = 1_250;
/** Bump when what this file writes changes (the other sources that decide it are hashed). */
const CORPUS_FORMAT = 1;

/** What a built corpus holds; written beside the store as corpus.json. */
export interface CorpusInfo {
  chunks: number;
  documents: number;
  model: string;
  version: string;
  buildSeconds: number;
  /** Megabytes on disk (known for a corpus the bench wrote itself). */
  sizeMb?: number;
}

export interface Corpus {
  info: CorpusInfo;
  /** The store directory (LanceDB) holding the corpus; copied per run, never written. */
  storeDir: string;
  /** True when this run built it (false: reused from an earlier run). */
  built: boolean;
}

const root = fileURLToPath(new URL('../../../../../', import.meta.url));

/**
 * The corpus of `chunks` chunks in the bench collection, built once and kept in
 * `.hopper/bench-corpus-<label>-<version>`.
 *
 * It is written straight into the store rather than ingested through the queue: the same parser,
 * chunker (default options), embedding text (title and heading path in front of each chunk) and
 * built-in embedder as the worker, one `replaceDocument` per document, so the rows are what
 * ingestion would write. Going through the workers would take minutes for 100k chunks on two
 * cores and measure the workers rather than search; the workers' throughput is its own scenario.
 *
 * The version hashes the sources that decide what is stored (the text generator, the store, the
 * chunker, the embedder) and CORPUS_FORMAT, so a change to any of them builds a fresh corpus;
 * older builds of the same size are removed.
 */
export async function loadCorpus(chunks: number, log: (line: string) => void): Promise<Corpus> {
  const embedder = createEmbeddingProvider({ provider: 'builtin' });
  const version = await corpusVersion(embedder.model);
  const label = sizeLabel(chunks);
  const cacheRoot = join(root, '.hopper');
  const dir = join(cacheRoot, `bench-corpus-${label}-${version}`);
  const existing = await readInfo(dir);
  if (existing) return { info: existing, storeDir: join(dir, 'store'), built: false };

  await mkdir(cacheRoot, { recursive: true });
  for (const name of await readdir(cacheRoot)) {
    const stale =
      name.startsWith(`bench-corpus-${label}-`) && !name.startsWith(`bench-corpus-${label}-${version}`);
    if (stale) await rm(join(cacheRoot, name), { recursive: true, force: true });
  }
  log(`building the ${label} corpus (${chunks} chunks) in ${dir}`);
  const corpus = await buildCorpus(dir, chunks, embedder, version, log);
  if (corpus.built)
    log(`built the ${label} corpus in ${corpus.info.buildSeconds} s (${corpus.info.sizeMb} MB)`);
  return corpus;
}

async function buildCorpus(
  dir: string,
  chunks: number,
  embedder: Embedder,
  version: string,
  log: (line: string) => void,
): Promise<Corpus> {
  // Built under a temporary name and renamed at the end: an interrupted build is never reused.
  const partial = `${dir}.partial-${process.pid}`;
  const started = performance.now();
  const documents = await writeCorpus(join(partial, 'store'), chunks, embedder, log);
  const info: CorpusInfo = {
    chunks,
    documents,
    model: embedder.model,
    version,
    buildSeconds: Math.round((performance.now() - started) / 100) / 10,
    sizeMb: Math.round((await directorySize(partial)) / 2 ** 20),
  };
  await writeFile(join(partial, 'corpus.json'), `${JSON.stringify(info, null, 2)}\n`);
  try {
    await rename(partial, dir);
  } catch (error) {
    // Another run built the same corpus meanwhile: theirs is as good.
    await rm(partial, { recursive: true, force: true });
    const theirs = await readInfo(dir);
    if (!theirs) throw error;
    return { info: theirs, storeDir: join(dir, 'store'), built: false };
  }
  return { info, storeDir: join(dir, 'store'), built: true };
}

/** Copies a corpus store to `target` (a run's own store, which its worker may write to). */
export async function copyCorpus(corpus: Corpus, target: string): Promise<void> {
  await cp(corpus.storeDir, target, { recursive: true });
}

export function sizeLabel(chunks: number): string {
  return chunks % 1000 === 0 ? `${chunks / 1000}k` : String(chunks);
}

type Embedder = ReturnType<typeof createEmbeddingProvider>;

interface PreparedDocument {
  document: DocumentInput;
  chunks: ChunkInput[];
}

async function writeCorpus(
  storeDir: string,
  chunks: number,
  embedder: Embedder,
  log: (line: string) => void,
): Promise<number> {
  const { documents, chunksOf } = corpusLayout(chunks);
  // Compaction, the index updates and the move out of the delta run once, after the last write
  // (the store's own maintenance would otherwise run whenever its bounds are passed), so every row
  // is in the main chunk table, indexed and compacted.
  const failures: string[] = [];
  const store = await openStoreWriter({
    uri: storeDir,
    maxUnindexedRows: Number.MAX_SAFE_INTEGER,
    maxUnindexedSeconds: 86_400,
    maxFragments: Number.MAX_SAFE_INTEGER,
    maxDeltaRows: Number.MAX_SAFE_INTEGER,
    onMaintenanceError: (error, operation) => failures.push(`${operation}: ${String(error)}`),
  });
  const text = new SyntheticText();
  let written = 0;
  let writing: Promise<unknown> = Promise.resolve();
  try {
    for (let d = 0; d < documents; d++) {
      // The next document is generated and embedded while LanceDB writes the previous one on its
      // own threads.
      const next = await prepareDocument(text, embedder, d, chunksOf(d));
      await writing;
      writing = store.replaceDocument(next.document, next.chunks);
      written += next.chunks.length;
      if ((d + 1) % 10 === 0) log(`  ${written} of ${chunks} chunks`);
    }
    await writing;
    await store.maintain();
  } finally {
    await store.close();
  }
  if (failures.length > 0)
    throw new Error(`building the corpus: store maintenance failed: ${failures.join('; ')}`);
  if (written !== chunks) throw new Error(`building the corpus: wrote ${written} chunks, not ${chunks}`);
  return documents;
}

/** How a corpus of `chunks` chunks is split into documents, and how many chunks each one has. */
export function corpusLayout(chunks: number): { documents: number; chunksOf: (index: number) => number } {
  const perDocument = Math.max(MIN_CHUNKS_PER_DOCUMENT, Math.ceil(chunks / DOCUMENTS));
  return {
    documents: Math.ceil(chunks / perDocument),
    chunksOf: (index) => Math.min(perDocument, chunks - index * perDocument),
  };
}

/**
 * Document `index` of the corpus: a Markdown text long enough for `count` chunks however the
 * chunker cuts (written directly, only its first `count` chunks are stored).
 */
export function corpusDocument(
  text: SyntheticText,
  index: number,
  count: number,
): { documentId: string; title: string; content: string } {
  const random = randomGenerator(1_000 + index);
  const title = `Bench log ${index + 1}: ${text.word(random)} ${text.word(random)}`;
  return {
    documentId: `bench-${index + 1}`,
    title,
    content: text.document(random, title, count * CHARS_PER_CHUNK),
  };
}

/** Document `index` of the corpus, chunked and embedded as the worker would. */
async function prepareDocument(
  text: SyntheticText,
  embedder: Embedder,
  index: number,
  count: number,
): Promise<PreparedDocument> {
  const { documentId, title, content } = corpusDocument(text, index, count);
  const parsed = await parseDocument({ content, mediaType: 'text/markdown' });
  const pieces = chunkDocument(parsed).slice(0, count);
  if (pieces.length < count) throw new Error(`corpus document ${index + 1} has only ${pieces.length} chunks`);
  const texts = pieces.map((piece) => chunkEmbeddingText(piece, title));
  const vectors = await embedder.embed(texts);
  return {
    document: {
      tenant: LOCAL_TENANT,
      collection: BENCH_COLLECTION,
      documentId,
      title,
      mediaType: parsed.mediaType,
      contentHash: contentHash(content),
      metadata: { corpus: 'bench', part: index % 16 },
      model: embedder.model,
    },
    chunks: pieces.map((piece, i) => ({
      text: piece.text,
      headingPath: piece.headingPath,
      start: piece.start,
      end: piece.end,
      vector: vectors[i] as Float32Array,
      searchText: texts[i] as string,
    })),
  };
}

async function corpusVersion(model: string): Promise<string> {
  const hash = createHash('sha256').update(`${CORPUS_FORMAT}\0${model}\0`);
  const sources = [
    'apps/bench/src/bench/corpus/synthetic-text.ts',
    'libs/documents/src/chunk.ts',
    'libs/embeddings/src/builtin.ts',
  ];
  const storeSources = (await readdir(join(root, 'libs/store/src')))
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))
    .sort()
    .map((name) => `libs/store/src/${name}`);
  for (const path of [...sources, ...storeSources]) hash.update(await readFile(join(root, path)));
  return hash.digest('hex').slice(0, 12);
}

async function readInfo(dir: string): Promise<CorpusInfo | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'corpus.json'), 'utf8')) as CorpusInfo;
  } catch {
    return undefined;
  }
}

async function directorySize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}
