import type { CallToolResult } from '@modelcontextprotocol/server';
import type { HopperErrorCode } from '@hopper/contracts';
import type { Logger } from '@hopper/lifecycle';
import type * as z from 'zod';
import { describeFailure } from '../tools/failure.ts';

/**
 * Where a failed tool result carries its error code. Not in `structuredContent`: v1 clients check
 * that against the tool's output schema even on errors, and the error shape is not the output.
 */
export const ERROR_META_KEY = 'hopper/error';

export function toolSuccess(output: object): CallToolResult {
  return {
    content: [{ type: 'text', text: JSON.stringify(output) }],
    structuredContent: output,
  };
}

/**
 * A tool failure as MCP wants it: a result with `isError: true` and a message a person can act on,
 * plus the Hopper error code in `_meta` for programs. Unexpected errors are logged with a reference
 * and never shown (no stack traces, no internals).
 */
export function toolFailure(error: unknown, logger: Logger, tool: string): CallToolResult {
  const { code, message, retryAfterSeconds } = describeFailure(error, logger, tool);
  const meta: { code: HopperErrorCode; retryAfterSeconds?: number } = {
    code,
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  };
  return { content: [{ type: 'text', text: message }], isError: true, _meta: { [ERROR_META_KEY]: meta } };
}

/**
 * The SDK would check every result against the tool's output schema; Hopper checks here instead,
 * and only answers computed now. A cached answer passed this check when it was computed, and
 * re-checking a 10 KB search result on every cache hit was 5% of the gateway's CPU (and a deep
 * copy's worth of garbage). A result that fails is a Hopper bug: it becomes an internal error
 * (logged with a reference), never a reply.
 */
export function checkedOutput(schema: z.ZodType, output: object): object {
  if ((output as { cached?: unknown }).cached === true) return output;
  const checked = schema.safeParse(output);
  if (!checked.success) throw new Error(`tool output does not match its schema: ${checked.error.message}`);
  return output;
}
