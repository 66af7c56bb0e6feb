import { totalmem } from 'node:os';

/** How much of everything a run does. */
export interface Profile {
  name: 'full' | 'quick' | 'tiny';
  /** Per step: calls before the window (not recorded), then the window. */
  warmupMs: number;
  durationMs: number;
  /** Client counts of the concurrency sweeps (cached and uncached search). */
  sweep: number[];
  /** Clients of the scenarios that are not swept. */
  clients: number;
  /** Corpus sizes, in chunks; the search scenarios run on each. */
  corpora: number[];
  /** Document sizes (bytes) of the `wait: false` acknowledge scenario. */
  ingestBytes: number[];
  topKs: number[];
  /** Documents (~100 chunks each) queued and drained in the ingest-throughput scenario. */
  throughputDocuments: number;
  /** Ingests followed by MCP and Socket.IO clients in the progress-latency scenario. */
  progressJobs: number;
  /** Documents sent one call each in the user-ingest scenario (SciFact holds 5,183). */
  userIngestDocuments: number;
  /** How long the user-ingest scenario waits before its reads at rest (0: no such phase). */
  userIngestRestMs: number;
  /** The user-ingest-100k scenario's sizes. */
  userIngest100k: PreloadedIngestSizes;
  /**
   * A server process past this resident size (MB) ends the step, and its sweep: 200 concurrent
   * hybrid searches over 100k chunks took a gateway to 18 GB and the kernel's OOM killer (and
   * the machine's other work with it). Default: 6 GB or a quarter of the memory, if less.
   */
  memoryLimitMb: number;
}

/**
 * The user-ingest-100k scenario: `copies` copies of SciFact's first `documentsPerCopy` abstracts
 * preloaded as REST batches, a pause of `pauseMs`, then `documents` more one per call with readers.
 */
export interface PreloadedIngestSizes {
  copies: number;
  /** SciFact holds 5,183 abstracts (8,721 chunks); more than that means all of them. */
  documentsPerCopy: number;
  /**
   * Quiet time before the measured phase: the store moves its recent writes into the main table
   * after 30 s without one.
   */
  pauseMs: number;
  /** Sent one call each while the readers read. */
  documents: number;
}

const MEMORY_LIMIT_MB = Math.round(Math.min(6 * 1024, (totalmem() / 2 ** 20) * 0.25));

const KB = 1024;

export const profiles: Record<Profile['name'], Profile> = {
  full: {
    name: 'full',
    warmupMs: 2_000,
    durationMs: 10_000,
    sweep: [1, 10, 50, 200],
    clients: 10,
    corpora: [10_000, 100_000],
    ingestBytes: [KB, 10 * KB, 100 * KB, 1024 * KB],
    topKs: [5, 20, 50],
    throughputDocuments: 40,
    progressJobs: 8,
    userIngestDocuments: 5_183,
    userIngestRestMs: 45_000,
    // 11 copies: 57,013 abstracts, 95,931 chunks.
    userIngest100k: { copies: 11, documentsPerCopy: 5_183, pauseMs: 45_000, documents: 3_000 },
    memoryLimitMb: MEMORY_LIMIT_MB,
  },
  /**
   * Under two minutes (plus ~1.5 for user-ingest-100k): every scenario, short steps, the 10k corpus
   * only.
   */
  quick: {
    name: 'quick',
    warmupMs: 500,
    durationMs: 1_500,
    sweep: [1, 10, 50, 200],
    clients: 10,
    corpora: [10_000],
    ingestBytes: [KB, 10 * KB, 100 * KB, 1024 * KB],
    topKs: [5, 50],
    throughputDocuments: 8,
    progressJobs: 4,
    userIngestDocuments: 1_000,
    userIngestRestMs: 45_000,
    userIngest100k: { copies: 3, documentsPerCopy: 5_183, pauseMs: 45_000, documents: 1_000 },
    memoryLimitMb: MEMORY_LIMIT_MB,
  },
  /** Seconds: every scenario once, for the test suite. The figures mean nothing. */
  tiny: {
    name: 'tiny',
    warmupMs: 100,
    durationMs: 300,
    sweep: [1, 4],
    clients: 2,
    corpora: [500],
    ingestBytes: [KB, 10 * KB],
    topKs: [5, 50],
    throughputDocuments: 2,
    progressJobs: 1,
    userIngestDocuments: 20,
    userIngestRestMs: 0,
    userIngest100k: { copies: 2, documentsPerCopy: 100, pauseMs: 1_000, documents: 100 },
    memoryLimitMb: MEMORY_LIMIT_MB,
  },
};
