import type { Redis } from 'ioredis';
import type { Logger } from '@hopper/lifecycle';
import type { Keys } from '@hopper/contracts';
import type { TenantEmbedder } from '@hopper/cache';
import type { StoreReader } from '@hopper/store';
import type { JobsService } from '@hopper/jobs';
import type { LegacySessions } from '../mcp/legacy-sessions.ts';
import type { PathReads } from './path-reads.ts';

/** What the tool handlers are built from: one set per gateway process, shared by every request. */
export interface ToolDeps {
  redis: Redis;
  keys: Keys;
  jobs: JobsService;
  store: StoreReader;
  embedder: TenantEmbedder;
  logger: Logger;
  /** Routes of legacy MCP requests waiting on jobs; none: no legacy cancellation (REST, tests). */
  legacy?: LegacySessions;
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
