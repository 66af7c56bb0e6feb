import { keySafe } from './keys.ts';
import { validateMetadata } from './metadata.ts';
import { StoreError } from './store-error.ts';
import type { ChunkInput, DocumentInput } from './types.ts';

// Checks that run before any storage call, so bad input never costs a round trip or a commit.

// LanceDB stores these as Int32.
const MAX_OFFSET = 2 ** 31 - 1;

export function requireId(name: string, value: string): void {
  if (typeof value !== 'string' || value.length === 0) {
    throw new StoreError('invalid_input', `${name} must be a non-empty string`);
  }
  if (!keySafe(value)) {
    throw new StoreError('invalid_input', `${name} must not contain control characters`);
  }
}

export function validateVector(vector: unknown, what: string): asserts vector is Float32Array {
  if (!(vector instanceof Float32Array) || vector.length === 0) {
    throw new StoreError('invalid_input', `${what} must be a non-empty Float32Array`);
  }
}

/** Checks a write before touching storage; returns the vectors' dimension. */
export function validateWrite(doc: DocumentInput, chunks: ChunkInput[]): number {
  requireId('tenant', doc.tenant);
  requireId('collection', doc.collection);
  requireId('documentId', doc.documentId);
  requireId('model', doc.model);
  validateMetadata(doc.metadata);
  const first = chunks[0];
  if (first === undefined) {
    throw new StoreError(
      'invalid_input',
      `Document "${doc.documentId}" has no chunks; nothing would be searchable`,
    );
  }
  validateVector(first.vector, 'chunk 0 vector');
  const dimension = first.vector.length;
  chunks.forEach((chunk, index) => {
    validateVector(chunk.vector, `chunk ${index} vector`);
    if (chunk.vector.length !== dimension) {
      throw new StoreError(
        'dimension_mismatch',
        `Chunk ${index} has a ${chunk.vector.length}-dimensional vector but chunk 0 has ${dimension} dimensions`,
      );
    }
    const { start, end } = chunk;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > MAX_OFFSET) {
      throw new StoreError('invalid_input', `Chunk ${index} has invalid offsets ${start}..${end}`);
    }
  });
  return dimension;
}
