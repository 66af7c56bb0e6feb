import type { ToolName } from './tools.ts';

/**
 * Hopper's OAuth scopes. `read` sees a tenant's documents and jobs; `write` changes them. Neither
 * implies the other: an ingestion pipeline can hold `write` alone, a search assistant `read` alone.
 */
export const scopes = ['read', 'write'] as const;
export type Scope = (typeof scopes)[number];

/**
 * The scope each tool needs, on every entry point (MCP, REST, Socket.IO). `embed_texts` is `read`:
 * it changes nothing a tenant owns (its output depends on its input alone, like a search's query
 * embedding), so it needs no more than a search; its cost is a matter for rate limits, not scopes.
 */
export const toolScopes: Record<ToolName, Scope> = {
  search: 'read',
  get_document: 'read',
  list_documents: 'read',
  list_chunks: 'read',
  get_job: 'read',
  list_jobs: 'read',
  embed_texts: 'read',
  ingest_document: 'write',
  ingest_documents: 'write',
  delete_document: 'write',
  cancel_job: 'write',
};

export function isScope(value: string): value is Scope {
  return (scopes as readonly string[]).includes(value);
}
