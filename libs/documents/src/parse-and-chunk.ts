import { Worker } from 'node:worker_threads';
import { chunkDocument, type Chunk, type ChunkOptions } from './chunk.ts';
import type { DocumentInput, MediaType } from './document.ts';
import { DocumentError, type DocumentErrorCode } from './errors.ts';
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
   * Parse in a worker thread with these limits. Without it, parsing runs on the caller's thread:
   * fine for trusted input and tests, not for documents from clients.
   */
  sandbox?: SandboxLimits;
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
 * Parses and chunks a document. With `sandbox`, in a fresh `node:worker_threads` Worker with a
 * capped heap and a time budget: untrusted input (a zip bomb, a PDF page tree of a million pages,
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
  if (options.sandbox === undefined) return parseAndChunkHere(input, options.parse, options.chunking);
  return inSandbox(input, options, options.sandbox);
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

function inSandbox(
  input: DocumentInput,
  options: ParseAndChunkOptions,
  limits: SandboxLimits,
): Promise<ChunkedDocument> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<ChunkedDocument>((resolve, reject) => {
    const worker = new Worker(new URL('./sandbox-thread.ts', import.meta.url), {
      workerData: { input, parse: options.parse, chunking: options.chunking },
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
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      outcome();
      // The thread may still be running (a timeout, an abort): stop it; its heap goes with it.
      void worker.terminate();
    };
    const timer = setTimeout(
      () =>
        settle(() =>
          reject(
            new DocumentError(
              'too_large',
              `Parsing the document took longer than ${formatSeconds(limits.timeoutMs)}, the most a worker ` +
                'gives one document; it was stopped. Split it into smaller documents, or simplify it, and send them again.',
            ),
          ),
        ),
      limits.timeoutMs,
    );
    const onAbort = (): void => settle(() => reject(signal?.reason as Error));
    signal?.addEventListener('abort', onAbort, { once: true });

    worker.on('message', (reply: SandboxReply) => {
      settle(() => {
        if (reply.ok) resolve(reply.document);
        else reject(rebuild(reply.error));
      });
    });
    worker.on('error', (error: Error & { code?: string }) => {
      settle(() => {
        if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') {
          reject(
            new DocumentError(
              'too_large',
              `The document needed more than ${limits.maxHeapMb} MB of memory to parse, the most a worker gives ` +
                'one document; it was stopped. Split it into smaller documents, or simplify it, and send them again.',
              { cause: error },
            ),
          );
        } else {
          reject(unexpected(error));
        }
      });
    });
    worker.on('exit', (code) => {
      settle(() =>
        reject(unexpected(new Error(`the parser thread exited (code ${code}) without an answer`))),
      );
    });
  });
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
