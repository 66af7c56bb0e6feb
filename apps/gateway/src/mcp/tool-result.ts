import { randomUUID } from 'node:crypto';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { isHopperError } from '@hopper/contracts';
import { DocumentError } from '@hopper/documents';
import { EmbeddingError } from '@hopper/embeddings';
import type { Logger } from '@hopper/lifecycle';
import { REDIS_UNAVAILABLE_MESSAGE, isRedisUnavailable } from '@hopper/redis';
import { StoreError } from '@hopper/store';

/** Whether an error's message was written for clients (no paths, no secrets, no stack). */
function isClientSafe(error: unknown): error is Error {
  if (error instanceof DocumentError || error instanceof EmbeddingError) return true;
  // An `unavailable` store error wraps an engine failure whose text may name internal paths.
  return error instanceof StoreError && error.code !== 'unavailable';
}

export function toolSuccess(output: object): CallToolResult {
  return {
    content: [{ type: 'text', text: JSON.stringify(output) }],
    structuredContent: output,
  };
}

/**
 * A tool failure as MCP wants it: a result with `isError: true` and a message a person can act on.
 * Unexpected errors are logged with a reference and never shown (no stack traces, no internals).
 */
export function toolFailure(error: unknown, logger: Logger, tool: string): CallToolResult {
  let text: string;
  if (isHopperError(error)) {
    text = error.message;
  } else if (isClientSafe(error)) {
    text = error.message;
  } else if (isRedisUnavailable(error)) {
    logger.warn({ err: error, tool }, 'tool failed: Redis is unreachable');
    text = REDIS_UNAVAILABLE_MESSAGE;
  } else {
    const ref = randomUUID().slice(0, 8);
    logger.error({ err: error, tool, ref }, 'tool failed unexpectedly');
    text = `internal error in ${tool} (reference ${ref}); the gateway log has the details`;
  }
  return { content: [{ type: 'text', text }], isError: true };
}
