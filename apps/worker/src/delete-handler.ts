import type { StoreWriter } from '@hopper/store';
import type { JobHandler } from '@hopper/jobs';

/** Deletes run on the worker side so the store keeps a single writer side (see ARCHITECTURE.md). */
export function createDeleteHandler(store: StoreWriter): JobHandler<'delete'> {
  return async (payload) => {
    const deleted = await store.deleteDocument(payload.tenant, payload.collection, payload.documentId);
    return { documentId: payload.documentId, deleted };
  };
}
