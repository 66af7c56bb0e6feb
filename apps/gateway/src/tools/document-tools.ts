import { DEFAULT_COLLECTION, HopperError, jobCatalog, notFound, type DocumentView } from '@hopper/contracts';
import { jobResult } from '@hopper/jobs';
import type { DocumentRecord } from '@hopper/store';
import type { ToolDeps } from './tool-context.ts';
import type { ToolHandler } from '@hopper/contracts';

export function documentTools(deps: ToolDeps): {
  search: ToolHandler<'search'>;
  get_document: ToolHandler<'get_document'>;
  list_documents: ToolHandler<'list_documents'>;
  list_chunks: ToolHandler<'list_chunks'>;
  delete_document: ToolHandler<'delete_document'>;
} {
  const { store, embedder, jobs } = deps;
  return {
    async search(input, call) {
      const mode = input.mode;
      // A text-only search needs no embedding: it skips the provider call altogether.
      let vector: Float32Array | undefined;
      if (mode !== 'text') {
        [vector] = await embedder.embed(call.tenant, [input.query], { signal: call.signal });
        if (!vector) throw new Error('embedding provider returned no vector for the query');
      }
      const hits = await store.search(call.tenant, {
        mode,
        text: input.query,
        ...(vector ? { vector, model: embedder.model } : {}),
        topK: input.topK,
        collection: input.collection ?? DEFAULT_COLLECTION,
        ...(input.filter ? { filter: input.filter } : {}),
      });
      return {
        results: hits.map((hit) => ({
          documentId: hit.documentId,
          chunkId: hit.chunkId,
          score: hit.score,
          text: hit.text,
          metadata: hit.metadata,
          headingPath: hit.headingPath,
          ...(hit.page === undefined ? {} : { page: hit.page }),
          start: hit.start,
          end: hit.end,
          matched: hit.matched,
          scores: hit.scores,
        })),
        cached: false,
      };
    },

    async get_document(input, call) {
      const collection = input.collection ?? DEFAULT_COLLECTION;
      const record = await store.getDocument(call.tenant, collection, input.documentId);
      if (!record) throw notFound('document', input.documentId);
      return toDocumentView(record);
    },

    async list_documents(input, call) {
      const page = await store.listDocuments(call.tenant, {
        limit: input.limit,
        ...(input.collection ? { collection: input.collection } : {}),
        ...(input.cursor ? { cursor: input.cursor } : {}),
      });
      return {
        documents: page.documents.map(toDocumentView),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      };
    },

    async list_chunks(input, call) {
      const collection = input.collection ?? DEFAULT_COLLECTION;
      const page = await store.listChunks(call.tenant, collection, input.documentId, {
        limit: input.limit,
        ...(input.cursor ? { cursor: input.cursor } : {}),
      });
      // The same answer as get_document's for a document that is not there.
      if (!page) throw notFound('document', input.documentId);
      return {
        documentId: page.document.documentId,
        collection: page.document.collection,
        version: page.document.version,
        totalChunks: page.document.chunks,
        chunks: page.chunks,
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      };
    },

    async delete_document(input, call) {
      const collection = input.collection ?? DEFAULT_COLLECTION;
      const jobId = await jobs.submitDelete(call.tenant, collection, input.documentId);
      // The catalog's wait: past it the caller gets an error it can retry.
      const job = await jobs.waitForJob(call.tenant, jobId, { timeoutMs: jobCatalog.delete.waitTimeoutMs });
      if (job.state !== 'completed') {
        throw new HopperError(
          job.state === 'failed' ? 'internal' : 'timeout',
          `delete of '${input.documentId}' did not finish (${job.state}${job.error ? `: ${job.error}` : ''})`,
        );
      }
      return { documentId: input.documentId, deleted: jobResult('delete', job)?.deleted === true };
    },
  };
}

function toDocumentView(record: DocumentRecord): DocumentView {
  return {
    documentId: record.documentId,
    collection: record.collection,
    title: record.title,
    mediaType: record.mediaType,
    chunks: record.chunks,
    version: record.version,
    metadata: record.metadata,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}
