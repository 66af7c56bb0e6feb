import { Worker } from 'node:worker_threads';
import type { IndexQuery } from './memory-index.ts';
import type { ClockTick } from './commit-clock.ts';
import type { Freshness } from './search-mirror.ts';
import type { SearchHit, SearchMode } from './types.ts';

/**
 * Heap the thread may use per chunk it may hold, and at least: a chunk costs ~3 KB of heap at
 * SciFact's sizes (its text, terms, postings and keys; the vectors live in WebAssembly memory,
 * outside the heap). Past the limit V8 ends the thread, not the gateway, and LanceDB answers.
 */
const HEAP_BYTES_PER_CHUNK = 6 * 1024;
const MIN_HEAP_MB = 128;
/** How long a closing thread may take to finish its reads before it is terminated. */
const CLOSE_TIMEOUT_MS = 5_000;

export interface MirrorThreadOptions {
  /** The store to follow, as the store itself opened it. */
  uri: string;
  storageOptions?: Record<string, string>;
  /** More chunks than this (all tenants) and the mirror turns itself off: LanceDB serves searches. */
  maxRows: number;
  /** The thread's heap limit; by default sized for `maxRows` chunks. */
  maxHeapMb?: number;
  /** Its state changes and failures, for the process's log. */
  onReady?: (stats: { rows: number; ms: number }) => void;
  onOff?: (reason: string) => void;
  onError?: (error: Error) => void;
  /**
   * The chunks the mirror holds and the memory its thread uses (V8 heap and WebAssembly memory),
   * after each change (0 once off or gone).
   */
  onSize?: (size: { rows: number; bytes: number }) => void;
  /** Each commit the mirror applied from its note, and each read of the tables (see SearchMirrorOptions). */
  onUpdate?: (source: 'note' | 'tables') => void;
}

/** What the thread is given at its start. */
export interface MirrorThreadData {
  uri: string;
  storageOptions?: Record<string, string>;
  maxRows: number;
}

/** A search the gateway asks of the thread: the index as fresh as `freshness` says, then the query. */
export interface MirrorRequest {
  id: number;
  freshness: Freshness;
  query: IndexQuery;
  mode: SearchMode;
  topK: number;
}

/** A tick of the commit clock handed on to the thread, with its commit's note. */
export interface MirrorTick extends ClockTick {
  kind: 'tick';
}

/** The thread's answers, and what it reports by itself. */
export type MirrorMessage =
  | { kind: 'result'; id: number; result: SearchHit[] | undefined }
  | { kind: 'ready'; rows: number; ms: number }
  | { kind: 'off'; reason: string }
  | { kind: 'size'; rows: number; bytes: number }
  | { kind: 'update'; source: 'note' | 'tables' }
  | { kind: 'error'; message: string };

/**
 * The search mirror (see {@link SearchMirror}) in a thread of its own: its first load, its
 * catch-up after imports and its searches run beside the gateway's event loop, on another core,
 * never in front of the gateway's other calls. The thread has its own LanceDB connection and a
 * heap limit of its own: should the mirror outgrow it, the thread ends, and LanceDB answers
 * every search from then on.
 */
export class MirrorThread {
  readonly #worker: Worker;
  readonly #pending = new Map<number, (result: SearchHit[] | undefined) => void>();
  #nextId = 0;
  #gone = false;
  #exited = false;

  constructor(options: MirrorThreadOptions) {
    const data: MirrorThreadData = {
      uri: options.uri,
      maxRows: options.maxRows,
      ...(options.storageOptions ? { storageOptions: options.storageOptions } : {}),
    };
    this.#worker = new Worker(new URL('./mirror-thread-main.ts', import.meta.url), {
      workerData: data,
      resourceLimits: {
        maxOldGenerationSizeMb:
          options.maxHeapMb ??
          Math.max(MIN_HEAP_MB, Math.ceil((options.maxRows * HEAP_BYTES_PER_CHUNK) / (1024 * 1024))),
      },
    });
    // The gateway's own shutdown decides when it exits, not this thread.
    this.#worker.unref();
    this.#worker.on('message', (message: MirrorMessage) => {
      switch (message.kind) {
        case 'result':
          this.#pending.get(message.id)?.(message.result);
          this.#pending.delete(message.id);
          break;
        case 'ready':
          options.onReady?.({ rows: message.rows, ms: message.ms });
          break;
        case 'off':
          options.onOff?.(message.reason);
          break;
        case 'error':
          options.onError?.(new Error(message.message));
          break;
        case 'size':
          options.onSize?.({ rows: message.rows, bytes: message.bytes });
          break;
        case 'update':
          options.onUpdate?.(message.source);
          break;
      }
    });
    this.#worker.on('error', (error: Error) => {
      // ERR_WORKER_OUT_OF_MEMORY when the mirror outgrew its heap limit.
      if (!this.#gone) options.onOff?.(`the mirror's thread failed: ${error.message}`);
      options.onSize?.({ rows: 0, bytes: 0 });
      this.#end();
    });
    this.#worker.on('exit', () => {
      this.#exited = true;
      this.#end();
    });
  }

  /**
   * The search's hits from the mirror, as fresh as `freshness` says, or `undefined` when LanceDB
   * must answer (loading, off, far behind, the thread gone, or a query the index cannot serve:
   * see {@link MemoryIndex.answer}). Only the `topK` hits cross between the threads.
   */
  search(
    freshness: Freshness,
    query: IndexQuery,
    mode: SearchMode,
    topK: number,
  ): Promise<SearchHit[] | undefined> {
    if (this.#gone) return Promise.resolve(undefined);
    const id = this.#nextId++;
    const request: MirrorRequest = { id, freshness, query, mode, topK };
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#worker.postMessage(request);
    });
  }

  /** Hands the thread a tick of the commit clock (see {@link SearchMirror.tick}). */
  tick(tick: ClockTick): void {
    if (this.#gone) return;
    const message: MirrorTick = { kind: 'tick', ...tick };
    this.#worker.postMessage(message);
  }

  /** Asks the thread to finish its reads and end; terminates it if it has not within a few seconds. */
  async close(): Promise<void> {
    this.#end();
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    this.#worker.postMessage('close');
    const deadline = setTimeout(() => void this.#worker.terminate(), CLOSE_TIMEOUT_MS);
    await exited;
    clearTimeout(deadline);
  }

  /** Every search still waiting goes to LanceDB. */
  #end(): void {
    this.#gone = true;
    for (const resolve of this.#pending.values()) resolve(undefined);
    this.#pending.clear();
  }
}
