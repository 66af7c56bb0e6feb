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

  constructor(code: HopperErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function notFound(what: string, id: string): HopperError {
  return new HopperError('not_found', `${what} '${id}' was not found`);
}

export function isHopperError(error: unknown): error is HopperError {
  return error instanceof HopperError;
}
