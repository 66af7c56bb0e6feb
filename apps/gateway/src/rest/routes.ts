import type { ToolName } from '@hopper/contracts';

export type HttpMethod = 'GET' | 'POST' | 'DELETE';

/**
 * One REST operation: a tool behind a method and path. Path parameters (`{jobId}`) and the query
 * string or JSON body together form the tool's input, validated by the tool's own schema.
 */
export interface RestRoute {
  method: HttpMethod;
  /** OpenAPI-style template, e.g. `/v1/jobs/{jobId}`. */
  path: string;
  tool: ToolName;
  /** Where the rest of the input comes from. */
  input: 'body' | 'query';
  summary: string;
}

/**
 * The REST mirror of the MCP tools, under `/v1`. Paths and methods are API: clients and the OpenAPI
 * document are built from this table, and a test checks that every tool has a route.
 */
export const restRoutes: readonly RestRoute[] = [
  { method: 'POST', path: '/v1/search', tool: 'search', input: 'body', summary: 'Search documents' },
  {
    method: 'POST',
    path: '/v1/documents',
    tool: 'ingest_document',
    input: 'body',
    summary:
      'Ingest a document (202 with a job handle unless it finished while the request waited; always 202 with wait: false)',
  },
  {
    method: 'POST',
    path: '/v1/documents/batch',
    tool: 'ingest_documents',
    input: 'body',
    summary:
      'Ingest many documents as one job: a JSON body ({documents: [...]} or {path: directory}), or NDJSON (content-type application/x-ndjson, one document per line; collection, chunking.maxChars, chunking.overlapChars and wait in the query string). 202 with a job handle unless it finished while the request waited.',
  },
  { method: 'GET', path: '/v1/documents', tool: 'list_documents', input: 'query', summary: 'List documents' },
  {
    method: 'GET',
    path: '/v1/documents/{documentId}',
    tool: 'get_document',
    input: 'query',
    summary: 'Get a document',
  },
  {
    method: 'GET',
    path: '/v1/documents/{documentId}/chunks',
    tool: 'list_chunks',
    input: 'query',
    summary: "List a document's chunks",
  },
  {
    method: 'DELETE',
    path: '/v1/documents/{documentId}',
    tool: 'delete_document',
    input: 'query',
    summary: 'Delete a document',
  },
  { method: 'POST', path: '/v1/embeddings', tool: 'embed_texts', input: 'body', summary: 'Embed texts' },
  { method: 'GET', path: '/v1/jobs', tool: 'list_jobs', input: 'query', summary: 'List jobs' },
  { method: 'GET', path: '/v1/jobs/{jobId}', tool: 'get_job', input: 'query', summary: 'Get a job' },
  {
    method: 'POST',
    path: '/v1/jobs/{jobId}/cancel',
    tool: 'cancel_job',
    input: 'query',
    summary: 'Cancel a job',
  },
];

export interface RouteMatch {
  route: RestRoute;
  params: Record<string, string>;
}

interface CompiledRoute {
  route: RestRoute;
  pattern: RegExp;
  names: string[];
}

const compiled: CompiledRoute[] = restRoutes.map((route) => {
  const names: string[] = [];
  const source = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    names.push(name);
    // Ids may contain '/' (document ids do): clients percent-encode them into one segment.
    return '([^/]+)';
  });
  return { route, pattern: new RegExp(`^${source}$`), names };
});

/**
 * Finds the route for a method and path. `undefined` when no path matches; `methods` lists the
 * methods the path does allow when only the method is wrong (for a 405 with `Allow`).
 */
export function matchRoute(
  method: string,
  path: string,
): { match: RouteMatch } | { methods: HttpMethod[] } | undefined {
  const methods: HttpMethod[] = [];
  for (const { route, pattern, names } of compiled) {
    const found = pattern.exec(path);
    if (!found) continue;
    if (route.method !== method) {
      methods.push(route.method);
      continue;
    }
    const params: Record<string, string> = {};
    names.forEach((name, i) => (params[name] = decodeURIComponent(found[i + 1] ?? '')));
    return { match: { route, params } };
  }
  return methods.length > 0 ? { methods } : undefined;
}
