import type { Logger } from '@hopper/lifecycle';
import { describeFailure } from '../tools/failure.ts';

/** An error response: `{error: {code, message, issues?}}` with its HTTP status (and `Retry-After` when busy). */
export interface HttpFailure {
  status: number;
  body: { error: { code: string; message: string; issues?: unknown[] } };
  headers?: Record<string, string>;
}

export function httpFailure(status: number, code: string, message: string, issues?: unknown[]): HttpFailure {
  return { status, body: { error: { code, message, ...(issues ? { issues } : {}) } } };
}

/** Maps what a tool handler threw to an HTTP answer, with the same codes as MCP tool failures. */
export function toHttpFailure(error: unknown, logger: Logger, tool: string): HttpFailure {
  const { status, code, message, issues, retryAfterSeconds } = describeFailure(error, logger, tool);
  const failure = httpFailure(status, code, message, issues);
  if (retryAfterSeconds !== undefined) failure.headers = { 'retry-after': String(retryAfterSeconds) };
  return failure;
}
