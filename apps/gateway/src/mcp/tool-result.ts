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

/** Where a tool failure's machine-readable part lives in the result's `_meta`. */
export const ERROR_META_KEY = 'hopper/error';

/**
 * A tool failure as MCP wants it: a result with `isError: true` and a message a person can act on.
 * Unexpected errors are logged with a reference and never shown (no stack traces, no internals).
 *
 * Hopper's own errors also carry `_meta["hopper/error"]: {code, retryAfterSeconds?}` so a program can
 * branch on the code and know when to retry. Not in `structuredContent`: that is the tool's output
 * schema, and v1 SDK clients validate it against that schema even on errors, failing the call.
 */
export function toolFailure(error: unknown, logger: Logger, tool: string): CallToolResult {
  if (isHopperError(error)) {
    const meta = {
      code: error.code,
      ...(error.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.retryAfterSeconds }),
    };
    return { ...errorText(error.message), _meta: { [ERROR_META_KEY]: meta } };
  }
  if (isClientSafe(error)) return errorText(error.message);
  if (isRedisUnavailable(error)) {
    logger.warn({ err: error, tool }, 'tool failed: Redis is unreachable');
    return { ...errorText(REDIS_UNAVAILABLE_MESSAGE), _meta: { [ERROR_META_KEY]: { code: 'unavailable' } } };
  }
  const ref = randomUUID().slice(0, 8);
  logger.error({ err: error, tool, ref }, 'tool failed unexpectedly');
  return errorText(`internal error in ${tool} (reference ${ref}); the gateway log has the details`);
}

function errorText(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}
