import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Logger } from '@hopper/lifecycle';

/** JSON-RPC error codes the gateway answers with itself, in front of the SDK. */
export const INVALID_REQUEST = -32600;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
/** Hopper's "busy" family (as the load shedder's): a limit reached, not a malformed request. */
export const LIMIT_REACHED = -32000;
/** The caller lacks a scope (answered with HTTP 403 and the scope challenge). */
export const INSUFFICIENT_SCOPE = -32001;
/** Missing Required Client Capability (2026-07-28, SEP-2575). */
export const MISSING_CAPABILITY = -32021;

export interface JsonRpcError {
  code: number;
  message: string;
  data?: unknown;
}

export function jsonRpcError(
  code: number,
  message: string,
  id: string | number | null = null,
  data?: unknown,
): { jsonrpc: '2.0'; id: string | number | null; error: JsonRpcError } {
  return { jsonrpc: '2.0', id, error: { code, message, ...(data === undefined ? {} : { data }) } };
}

/**
 * A failure the caller cannot act on (Redis unreachable, a bug): logged with a short reference,
 * answered with that reference only, never the details.
 */
export function internalError(logger: Logger, fields: Record<string, unknown>, what: string): JsonRpcError {
  const ref = randomUUID().slice(0, 8);
  logger.error({ ...fields, ref }, what);
  return {
    code: INTERNAL_ERROR,
    message: `internal error (reference ${ref}); the gateway log has the details`,
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
