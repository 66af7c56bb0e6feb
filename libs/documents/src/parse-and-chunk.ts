import { Worker } from 'node:worker_threads';
import { chunkDocument, type Chunk, type ChunkOptions } from './chunk.ts';
import type { DocumentInput, MediaType } from './document.ts';
import { DocumentError, type DocumentErrorCode } from './errors.ts';
import { detectMediaType } from './media-type.ts';
import { parseDocument, type ParseOptions } from './parse.ts';

/** Limits of the worker thread a document is parsed in. */
export interface SandboxLimits {
  /**
   * Heap the thread may use (V8's old generation), in MB. A document that needs more fails with
   * a `too_large` error saying so; the process that asked is unaffected.
   */
  maxHeapMb: number;
  /** How long parsing and chunking may take, in ms, before the thread is stopped. */
  timeoutMs: number;
}

/** Options for {@link parseAndChunk}. */
export interface ParseAndChunkOptions {
  parse?: ParseOptions;
  chunking?: ChunkOptions;
  /**
   * Parse in one of this pool's threads, with its limits. Without it, parsing runs on the caller's
   * thread: fine for trusted input and tests, not for documents from clients.
   */
  sandbox?: ParserPool;
  /** Stops the work (terminating the thread) when aborted; the promise rejects with the reason. */
  signal?: AbortSignal;
}

/** What {@link parseAndChunk} returns: the document's chunks, not its full parse. */
export interface ChunkedDocument {
  mediaType: MediaType;
  title?: string;
  /** Length of the extracted text, in UTF-16 code units. */
  textLength: number;
  chunks: Chunk[];
}

/** What the thread posts back: its result, or the error to rebuild on this side. */
export type SandboxReply =
  | { ok: true; document: ChunkedDocument }
  | {
      ok: false;
      /** `cause`: what the engine said (`name: message`), for the worker's log only. */
      error: { document: true; code: DocumentErrorCode; message: string; cause?: string };
    }
  | { ok: false; error: { document: false; name: string; message: string } };

/**
 * Parses and chunks a document. With `sandbox`, in a `node:worker_threads` thread of that pool, with
 * a capped heap and a time budget: untrusted input (a zip bomb, a PDF page tree of a million pages,
 * a parser bug) then costs at most that thread, and the caller's event loop (which renews queue
 * locks) stays free while it runs. A thread that runs out of heap or time becomes a
 * `DocumentError` saying which limit it hit; an unexpected failure inside a parser becomes a
 * `corrupt` one, the engine's own message kept only as its `cause` (for logs, not for people).
 *
 * @throws {DocumentError} as {@link parseDocument} and {@link chunkDocument}, and `too_large` when
 *   the sandbox's heap or time runs out.
 * @throws the signal's reason when `signal` is aborted.
 */
export async function parseAndChunk(
  input: DocumentInput,
  options: ParseAndChunkOptions = {},
): Promise<ChunkedDocument> {
  if (options.sandbox === undefined || isSmallPlainText(input)) {
    if (options.signal?.aborted) throw options.signal.reason as Error;
    return parseAndChunkHere(input, options.parse, options.chunking);
  }
  return options.sandbox.run(input, options);
}

/**
 * Plain text up to this many characters is parsed and chunked on the caller's thread even with a
 * sandbox: both steps are linear in the text (no parser, no decompression, no nesting), so it costs
 * well under a millisecond, less than the hand-off to a thread and back (most documents users send
 * one call at a time are this: notes, tickets, abstracts).
 */
const INLINE_TEXT_CHARS = 32_768;

function isSmallPlainText(input: DocumentInput): boolean {
  return (
    typeof input.content === 'string' &&
    input.content.length <= INLINE_TEXT_CHARS &&
    detectMediaType(input) === 'text/plain'
  );
}

/** The unsandboxed path, which the sandbox thread runs too. */
export async function parseAndChunkHere(
  input: DocumentInput,
  parse: ParseOptions | undefined,
  chunking: ChunkOptions | undefined,
): Promise<ChunkedDocument> {
  const parsed = await parseDocument(input, parse);
  const chunks = chunkDocument(parsed, chunking);
  return {
    mediaType: parsed.mediaType,
    ...(parsed.title === undefined ? {} : { title: parsed.title }),
    textLength: parsed.text.length,
    chunks,
  };
}

interface Task {
  input: DocumentInput;
  parse: ParseOptions | undefined;
  chunking: ChunkOptions | undefined;
  signal: AbortSignal | undefined;
  resolve: (document: ChunkedDocument) => void;
  reject: (error: unknown) => void;
}

interface Thread {
  worker: Worker;
  /** The task it runs; undefined while idle. */
  task: Task | undefined;
  /** Ends the running task with an error, stopping the thread. */
  fail?: (error: unknown) => void;
  /** Hands the idle thread a task. */
  start: (task: Task) => void;
}

/**
 * Long-lived parser threads, each with a capped heap and a time budget per document. A document
 * that runs out of heap or time, or is aborted, takes its thread down with it and a new thread
 * replaces it for the next one; other documents never share a thread with it while it runs. Kept
 * warm because starting a thread (loading the parsers into a fresh isolate) costs 0.15-0.25 s,
 * more than parsing a typical document, and because a fixed number of threads bounds the memory
 * parsing takes however many jobs run at once.
 */
export class ParserPool {
  readonly #limits: SandboxLimits;
  readonly #size: number;
  readonly #threads = new Set<Thread>();
  readonly #queue: Task[] = [];
  #closed = false;

  /** `threads`: how many documents are parsed at once (default 2). */
  constructor(limits: SandboxLimits & { threads?: number }) {
    this.#limits = { maxHeapMb: limits.maxHeapMb, timeoutMs: limits.timeoutMs };
    this.#size = Math.max(1, limits.threads ?? 2);
  }

  run(
    input: DocumentInput,
    options: Pick<ParseAndChunkOptions, 'parse' | 'chunking' | 'signal'> = {},
  ): Promise<ChunkedDocument> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    if (this.#closed) return Promise.reject(new Error('the parser pool is closed'));
    return new Promise<ChunkedDocument>((resolve, reject) => {
      const task: Task = { input, parse: options.parse, chunking: options.chunking, signal, resolve, reject };
      // Aborted while it waits for a thread: it leaves the line.
      signal?.addEventListener(
        'abort',
        () => {
          const index = this.#queue.indexOf(task);
          if (index >= 0) {
            this.#queue.splice(index, 1);
            reject(signal.reason as Error);
          }
        },
        { once: true },
      );
      this.#queue.push(task);
      this.#pump();
    });
  }

  /** Stops every thread; documents still waiting or running fail. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const task of this.#queue.splice(0)) task.reject(new Error('the parser pool is closed'));
    await Promise.all(
      [...this.#threads].map((thread) => {
        thread.fail?.(new Error('the parser pool is closed'));
        return thread.worker.terminate();
      }),
    );
    this.#threads.clear();
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      let thread = [...this.#threads].find((t) => t.task === undefined);
      if (!thread && this.#threads.size < this.#size) thread = this.#spawn();
      if (!thread) return;
      thread.start(this.#queue.shift() as Task);
    }
  }

  #spawn(): Thread {
    const limits = this.#limits;
    const worker = new Worker(new URL('./sandbox-thread.ts', import.meta.url), {
      resourceLimits: {
        maxOldGenerationSizeMb: limits.maxHeapMb,
        // The young generation is part of what a document costs; V8's default scales with the
        // old generation, which is fine, but it must not be the unbounded host default.
        maxYoungGenerationSizeMb: Math.max(8, Math.min(64, Math.floor(limits.maxHeapMb / 8))),
      },
      // Parser output (pdf.js warnings) is not the worker's log.
      stdout: true,
      stderr: true,
    });
    worker.stdout.resume();
    worker.stderr.resume();
    // An idle thread must not keep a process alive that is otherwise done.
    worker.unref();
    const thread: Thread = { worker, task: undefined, start: () => undefined };
    this.#threads.add(thread);
    const gone = (error: unknown): void => {
      this.#threads.delete(thread);
      thread.fail?.(error);
      this.#pump();
    };
    worker.on('error', (error: Error & { code?: string }) => {
      gone(
        error.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? new DocumentError(
              'too_large',
              `The document needed more than ${limits.maxHeapMb} MB of memory to parse, the most a worker gives ` +
                'one document; it was stopped. Split it into smaller documents, or simplify it, and send them again.',
              { cause: error },
            )
          : unexpected(error),
      );
    });
    worker.on('exit', (code) => {
      gone(unexpected(new Error(`the parser thread exited (code ${code}) without an answer`)));
    });
    worker.on('message', (reply: SandboxReply) => {
      const task = thread.task;
      if (!task) return;
      thread.task = undefined;
      thread.fail = undefined;
      clearTimers();
      if (reply.ok) task.resolve(reply.document);
      else task.reject(rebuild(reply.error));
      this.#pump();
    });
    let clearTimers = (): void => undefined;
    thread.start = (task: Task): void => {
      thread.task = task;
      worker.ref();
      const stop = (error: unknown): void => {
        // The thread may still be running (a timeout, an abort): stop it; its heap goes with it.
        this.#threads.delete(thread);
        thread.fail?.(error);
        void worker.terminate();
        this.#pump();
      };
      const timer = setTimeout(
        () =>
          stop(
            new DocumentError(
              'too_large',
              `Parsing the document took longer than ${formatSeconds(limits.timeoutMs)}, the most a worker ` +
                'gives one document; it was stopped. Split it into smaller documents, or simplify it, and send them again.',
            ),
          ),
        limits.timeoutMs,
      );
      const onAbort = (): void => stop(task.signal?.reason as Error);
      task.signal?.addEventListener('abort', onAbort, { once: true });
      clearTimers = () => {
        clearTimeout(timer);
        task.signal?.removeEventListener('abort', onAbort);
        worker.unref();
      };
      thread.fail = (error) => {
        thread.task = undefined;
        thread.fail = undefined;
        clearTimers();
        task.reject(error);
      };
      worker.postMessage({ input: task.input, parse: task.parse, chunking: task.chunking });
    };
    return thread;
  }
}

function rebuild(error: Extract<SandboxReply, { ok: false }>['error']): Error {
  if (error.document) {
    return new DocumentError(
      error.code,
      error.message,
      error.cause === undefined ? undefined : { cause: new Error(error.cause) },
    );
  }
  const cause = new Error(error.message);
  cause.name = error.name;
  return unexpected(cause);
}

/** A failure no parser anticipated: said plainly, the engine's words kept for the logs only. */
function unexpected(cause: Error): DocumentError {
  const nesting = cause.name === 'RangeError' && /call stack/i.test(cause.message);
  return new DocumentError(
    nesting ? 'too_complex' : 'corrupt',
    nesting
      ? 'The document nests too deeply to be read (its structure overflowed the parser). Flatten it and send it again.'
      : 'The document could not be read: the parser failed on its content. Check that it is a valid file of its ' +
          'type (re-save or re-export it) and send it again.',
    { cause },
  );
}

function formatSeconds(ms: number): string {
  const seconds = ms / 1000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
}
