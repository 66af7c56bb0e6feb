import type * as z from 'zod';
import type { ProgressEvent } from './progress.ts';
import type { ToolName, toolContracts } from './tools.ts';

/**
 * One tool call as a handler sees it, independent of the protocol that carried it (MCP or REST).
 * Shared by the gateway's handlers and the layers that wrap them (the result cache, its warmer).
 */
export interface CallContext {
  tenant: string;
  /** Fires when the caller goes away (a modern MCP client closing its stream). */
  signal: AbortSignal;
  /** Present when the caller asked for progress (an MCP progress token). */
  progress?: (event: ProgressEvent) => void;
  /** A legacy MCP request's identity, so `notifications/cancelled` can find it from any replica. */
  legacyRequest?: { sessionId: string; requestId: string };
  /** The protocol's id for this call (JSON-RPC id, HTTP request id), for logs. */
  requestId?: string;
  /** A call Hopper makes itself (cache warming), not a client's: it does not count as demand. */
  background?: boolean;
  /**
   * The result-cache key this call was just looked up under, and missed, by the MCP fast path
   * (its collection's epoch read for this call): the result cache takes it as the call's key
   * instead of reading the epoch and Redis a second time.
   */
  cacheMiss?: { tool: ToolName; key: string };
  /**
   * The caller follows queued work as an MCP task (see the gateway's task-path.ts): a handler that
   * queues a job writes its id here and returns at once, without waiting for the job; what it
   * returns then is not sent. A handler that answers without a job (a small `embed_texts`)
   * answers as usual and leaves `jobId` unset.
   */
  detached?: { jobId?: string };
}

/** A tool's arguments once its input schema parsed them (defaults applied). */
export type ToolInput<N extends ToolName> = z.output<(typeof toolContracts)[N]['input']>;
/** What a tool's handler returns, before its output schema checks it. */
export type ToolOutput<N extends ToolName> = z.input<(typeof toolContracts)[N]['output']>;

/** Runs one tool for one call. */
export type ToolHandler<N extends ToolName> = (
  input: ToolInput<N>,
  call: CallContext,
) => Promise<ToolOutput<N>>;
/** A handler for every tool. */
export type ToolHandlers = { [N in ToolName]: ToolHandler<N> };
