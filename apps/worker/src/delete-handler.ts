import type { DeletePayload, DeleteResult } from '@hopper/contracts';
import type { Store } from '@hopper/store';
import type { JobContext } from './job-runner.ts';

/** Deletes run on the worker side so the store keeps a single writer side (see ARCHITECTURE.md). */
export function createDeleteHandler(store: Store) {
  return async (payload: DeletePayload, _context: JobContext): Promise<DeleteResult> => {
    const deleted = await store.deleteDocument(payload.tenant, payload.collection, payload.documentId);
    return { documentId: payload.documentId, deleted };
  };
}
