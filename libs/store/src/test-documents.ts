import type { DocumentInput } from './types.ts';

/** The embedding model the store tests write and search with. */
export const TEST_MODEL = 'test-model';

/** A plain-text document of tenant `acme`, collection `docs`, for the store's tests. */
export function testDocument(documentId: string, metadata: DocumentInput['metadata'] = {}): DocumentInput {
  return {
    tenant: 'acme',
    collection: 'docs',
    documentId,
    title: documentId,
    mediaType: 'text/plain',
    contentHash: `hash-${documentId}`,
    metadata,
    model: TEST_MODEL,
  };
}
