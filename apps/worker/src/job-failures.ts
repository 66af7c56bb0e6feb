import { UnrecoverableError } from 'bullmq';
import { DocumentError } from '@hopper/documents';
import { EmbeddingError } from '@hopper/embeddings';
import type { FailurePolicy } from '@hopper/jobs';
import { StoreError } from '@hopper/store';

/**
 * What a job's record (and so its client) says of a failure. A document error's message is
 * written for the person who sent it; the engine message of anything else (a V8 RangeError, a
 * library's internals) is not theirs to read and stays in the logs.
 */
export function clientMessage(error: unknown): string {
  if (error instanceof DocumentError || error instanceof UnrecoverableError) return error.message;
  if (error instanceof StoreError || error instanceof EmbeddingError) return error.message;
  if (error instanceof RangeError && /call stack|heap|allocation/i.test(error.message)) {
    return 'the document could not be processed: it needed more stack or memory than a worker gives one job';
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * Errors that say the input is wrong (an undecodable document, a model mismatch, a 401 from the
 * embeddings API) fail at once; anything else may pass on the next attempt.
 */
export function isRetryable(error: unknown): boolean {
  if (error instanceof DocumentError) return false;
  if (error instanceof StoreError) return error.code === 'unavailable';
  if (error instanceof EmbeddingError) return error.retryable;
  return true;
}

/** The worker's failure policy, handed to every job processor. */
export const jobFailures: FailurePolicy = { clientMessage, isRetryable };
