// The body of the parser thread (see parse-and-chunk.ts): parses and chunks the document it is
// given and posts the outcome back. Runs with a capped heap; everything it allocates goes away
// with the thread.
import { parentPort, workerData } from 'node:worker_threads';
import type { ChunkOptions } from './chunk.ts';
import type { DocumentInput } from './document.ts';
import { DocumentError } from './errors.ts';
import type { ParseOptions } from './parse.ts';
import { parseAndChunkHere, type SandboxReply } from './parse-and-chunk.ts';

const { input, parse, chunking } = workerData as {
  input: DocumentInput;
  parse: ParseOptions | undefined;
  chunking: ChunkOptions | undefined;
};

let reply: SandboxReply;
try {
  reply = { ok: true, document: await parseAndChunkHere(input, parse, chunking) };
} catch (error) {
  reply =
    error instanceof DocumentError
      ? {
          ok: false,
          error: {
            document: true,
            code: error.code,
            message: error.message,
            ...(error.cause instanceof Error ? { cause: `${error.cause.name}: ${error.cause.message}` } : {}),
          },
        }
      : {
          ok: false,
          error: {
            document: false,
            name: error instanceof Error ? error.name : 'Error',
            message: error instanceof Error ? error.message : String(error),
          },
        };
}
parentPort?.postMessage(reply);
