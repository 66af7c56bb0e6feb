// The body of a parser thread (see ParserPool in parse-and-chunk.ts): parses and chunks each
// document it is sent and posts the outcome back. Runs with a capped heap; a document that breaks
// a limit takes the thread down, and the pool starts another.
import { parentPort } from 'node:worker_threads';
import type { ChunkOptions } from './chunk.ts';
import type { DocumentInput } from './document.ts';
import { DocumentError } from './errors.ts';
import type { ParseOptions } from './parse.ts';
import { parseAndChunkHere, type SandboxReply } from './parse-and-chunk.ts';

interface Request {
  input: DocumentInput;
  parse: ParseOptions | undefined;
  chunking: ChunkOptions | undefined;
}

async function answer({ input, parse, chunking }: Request): Promise<SandboxReply> {
  try {
    return { ok: true, document: await parseAndChunkHere(input, parse, chunking) };
  } catch (error) {
    return error instanceof DocumentError
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
}

parentPort?.on('message', (request: Request) => {
  void answer(request).then((reply) => parentPort?.postMessage(reply));
});
