import type { Redis } from 'ioredis';
import type { Logger } from '@hopper/lifecycle';
import type { Keys, ProgressEvent, ToolName, toolContracts } from '@hopper/contracts';
import type { TenantEmbedder } from '@hopper/redis';
import type { Store } from '@hopper/store';
import type * as z from 'zod';
import type { JobsService } from '../jobs-service.ts';
import type { PathReads } from './path-reads.ts';

/** What the tool handlers are built from: one set per gateway process, shared by every request. */
export interface ToolDeps {
  redis: Redis;
  keys: Keys;
  jobs: JobsService;
  store: Store;
  embedder: TenantEmbedder;
  logger: Logger;
  /**
   * Fires when the gateway is shutting down: waiting calls stop waiting and answer with their job
   * handle (the job goes on; the client can follow it with `get_job` on another replica).
   */
  shutdown?: AbortSignal;
  /** Directories `ingest_document {path}` may read from (HOPPER_INGEST_ROOTS); none: path ingestion is off. */
  ingestRoots?: readonly string[];
  /** Turns for reading the files of path ingests (HOPPER_MAX_PATH_READS); none: no cap. */
  pathReads?: PathReads;
}

/** One call as a handler sees it, independent of the protocol that carried it (MCP today, REST next). */
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
}

export type ToolInput<N extends ToolName> = z.output<(typeof toolContracts)[N]['input']>;
export type ToolOutput<N extends ToolName> = z.input<(typeof toolContracts)[N]['output']>;

export type ToolHandler<N extends ToolName> = (
  input: ToolInput<N>,
  call: CallContext,
) => Promise<ToolOutput<N>>;
export type ToolHandlers = { [N in ToolName]: ToolHandler<N> };
