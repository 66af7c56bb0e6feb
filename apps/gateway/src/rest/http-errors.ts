import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { isHopperError, type HopperErrorCode } from '@hopper/contracts';
import { DocumentError } from '@hopper/documents';
import { EmbeddingError } from '@hopper/embeddings';
import type { Logger } from '@hopper/lifecycle';
import { REDIS_UNAVAILABLE_MESSAGE, isRedisUnavailable } from '@hopper/redis';
import { StoreError } from '@hopper/store';

/** An error response: `{error: {code, message, issues?}}` with its HTTP status (and `Retry-After` when busy). */
export interface HttpFailure {
  status: number;
  body: { error: { code: string; message: string; issues?: unknown[] } };
  headers?: Record<string, string>;
}

const statusByCode: Record<HopperErrorCode, number> = {
  invalid_argument: 400,
  not_found: 404,
  conflict: 409,
  cancelled: 409,
  job_failed: 422,
  busy: 429,
  timeout: 504,
  unavailable: 503,
  unsupported: 415,
  internal: 500,
};

export function httpFailure(status: number, code: string, message: string, issues?: unknown[]): HttpFailure {
  return { status, body: { error: { code, message, ...(issues ? { issues } : {}) } } };
}

/**
 * Maps what a tool handler threw to an HTTP answer, with the same rule as MCP tool failures:
 * messages written for clients pass through, anything else is logged under a reference and hidden.
 */
export function toHttpFailure(error: unknown, logger: Logger, tool: string): HttpFailure {
  if (error instanceof z.ZodError) {
    return httpFailure(400, 'invalid_argument', z.prettifyError(error), error.issues);
  }
  if (isHopperError(error)) {
    const failure = httpFailure(statusByCode[error.code], error.code, error.message);
    if (error.retryAfterSeconds !== undefined)
      failure.headers = { 'retry-after': String(error.retryAfterSeconds) };
    return failure;
  }
  if (error instanceof DocumentError) return httpFailure(422, 'invalid_argument', error.message);
  if (error instanceof EmbeddingError) return httpFailure(503, 'unavailable', error.message);
  if (error instanceof StoreError && error.code !== 'unavailable') {
    const conflict = error.code === 'model_mismatch' || error.code === 'dimension_mismatch';
    return httpFailure(conflict ? 409 : 400, conflict ? 'conflict' : 'invalid_argument', error.message);
  }
  if (isRedisUnavailable(error)) return httpFailure(503, 'unavailable', REDIS_UNAVAILABLE_MESSAGE);
  const ref = randomUUID().slice(0, 8);
  logger.error({ err: error, tool, ref }, 'REST request failed unexpectedly');
  return httpFailure(
    500,
    'internal',
    `internal error in ${tool} (reference ${ref}); the gateway log has the details`,
  );
}
