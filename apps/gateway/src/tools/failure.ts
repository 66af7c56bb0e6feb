import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { isHopperError, type HopperErrorCode } from '@hopper/contracts';
import { DocumentError } from '@hopper/documents';
import { EmbeddingError } from '@hopper/embeddings';
import type { Logger } from '@hopper/lifecycle';
import { REDIS_UNAVAILABLE_MESSAGE, isRedisUnavailable } from '@hopper/redis';
import { StoreError } from '@hopper/store';

/** A failed call as a client sees it, whatever carried it (an MCP tool result, a REST response). */
export interface Failure {
  code: HopperErrorCode;
  /** For a person: what went wrong and what to do. Never a stack trace or an internal path. */
  message: string;
  /** The HTTP status REST answers with. */
  status: number;
  /** For `invalid_argument`: each problem and where it is. */
  issues?: unknown[];
  /** For `busy`: when trying again makes sense (REST sends it as `Retry-After`). */
  retryAfterSeconds?: number;
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

/**
 * Classifies what a tool handler (or its input validation) threw. Messages written for clients pass
 * through with their code; anything else is logged under a reference and hidden as `internal`.
 */
export function describeFailure(error: unknown, logger: Logger, tool: string): Failure {
  const failure = (code: HopperErrorCode, message: string, status = statusByCode[code]): Failure => ({
    code,
    message,
    status,
  });
  if (error instanceof z.ZodError) {
    return { ...failure('invalid_argument', z.prettifyError(error)), issues: error.issues };
  }
  if (isHopperError(error)) {
    const { retryAfterSeconds } = error;
    return {
      ...failure(error.code, error.message),
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    };
  }
  // The document could be read but not processed: the request was fine, its content was not.
  if (error instanceof DocumentError) return failure('invalid_argument', error.message, 422);
  if (error instanceof EmbeddingError) return failure('unavailable', error.message);
  // An `unavailable` store error wraps an engine failure whose text may name internal paths.
  if (error instanceof StoreError && error.code !== 'unavailable') {
    const conflict = error.code === 'model_mismatch' || error.code === 'dimension_mismatch';
    return failure(conflict ? 'conflict' : 'invalid_argument', error.message);
  }
  if (isRedisUnavailable(error)) {
    logger.warn({ err: error, tool }, 'tool failed: Redis is unreachable');
    return failure('unavailable', REDIS_UNAVAILABLE_MESSAGE);
  }
  const ref = randomUUID().slice(0, 8);
  logger.error({ err: error, tool, ref }, 'tool failed unexpectedly');
  return failure('internal', `internal error in ${tool} (reference ${ref}); the gateway log has the details`);
}
