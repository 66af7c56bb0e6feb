import type { DocumentView, IngestOutput, ListChunksOutput, SearchOutput } from '@hopper/contracts';

/** A refusal or failure from the REST API, with the server's message for the person. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ApiError(response.status, 'internal', `the server answered ${response.status}`);
  }
  if (!response.ok) {
    const error = (json as { error?: { code?: string; message?: string } }).error;
    throw new ApiError(
      response.status,
      error?.code ?? 'internal',
      error?.message ?? `HTTP ${response.status}`,
    );
  }
  return json as T;
}

export interface IngestRequest {
  content?: string;
  contentBase64?: string;
  mediaType?: string;
  title?: string;
  documentId?: string;
  collection?: string;
}

/** Queues an ingest and returns its job handle at once (`wait: false`): progress comes over the socket. */
export function ingest(request: IngestRequest): Promise<IngestOutput> {
  return call<IngestOutput>('POST', '/v1/documents', { ...request, wait: false });
}

export function search(query: string, topK: number, collection?: string): Promise<SearchOutput> {
  return call<SearchOutput>('POST', '/v1/search', { query, topK, ...(collection ? { collection } : {}) });
}

/** A page of the documents the caller can see, newest first, across collections unless one is named. */
export function listDocuments(limit: number): Promise<{ documents: DocumentView[]; nextCursor?: string }> {
  return call('GET', `/v1/documents?limit=${limit}`);
}

function documentPath(documentId: string, collection: string | undefined): string {
  const query = collection ? `?collection=${encodeURIComponent(collection)}` : '';
  return `/v1/documents/${encodeURIComponent(documentId)}${query}`;
}

/** One document, or undefined when there is none with that id in the collection. */
export async function getDocument(
  documentId: string,
  collection?: string,
): Promise<DocumentView | undefined> {
  try {
    return await call<DocumentView>('GET', documentPath(documentId, collection));
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return undefined;
    throw error;
  }
}

/** A page of a document's chunks, in order; `cursor` is the previous page's `nextCursor`. */
export function listChunks(
  documentId: string,
  collection: string,
  limit: number,
  cursor?: string,
): Promise<ListChunksOutput> {
  const query = new URLSearchParams({ collection, limit: String(limit), ...(cursor ? { cursor } : {}) });
  return call('GET', `/v1/documents/${encodeURIComponent(documentId)}/chunks?${query.toString()}`);
}

export function deleteDocument(
  documentId: string,
  collection?: string,
): Promise<{ documentId: string; deleted: boolean }> {
  return call('DELETE', documentPath(documentId, collection));
}
