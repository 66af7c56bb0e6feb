/**
 * Error codes a client can see. Tool failures carry one of these in their structured error so a
 * program can branch on it; the message is for a person.
 */
export type HopperErrorCode =
  | 'invalid_argument'
  | 'not_found'
  | 'conflict'
  | 'cancelled'
  | 'job_failed'
  | 'busy'
  | 'timeout'
  | 'unavailable'
  | 'unsupported'
  | 'internal';

/** A failure whose message is safe and useful to show a client (no stack, no internal paths). */
export class HopperError extends Error {
  override readonly name = 'HopperError';
  readonly code: HopperErrorCode;
  /** For `busy`: when trying again makes sense (REST sends it as `Retry-After`, MCP in the error's `_meta`). */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: HopperErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options);
    this.code = code;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** A refusal because a limit is reached; the message says which, and when to retry. */
export function busy(message: string, retryAfterSeconds: number): HopperError {
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  return new HopperError('busy', `${message}; retry after ${seconds} s`, { retryAfterSeconds: seconds });
}

export function notFound(what: string, id: string): HopperError {
  return new HopperError('not_found', `${what} '${id}' was not found`);
}

export function isHopperError(error: unknown): error is HopperError {
  return error instanceof HopperError;
}
