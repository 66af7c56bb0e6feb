import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStoreReader, openStoreWriter, type StoreReader } from './index.ts';
import { TEST_MODEL, testDocument } from './test-documents.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hopper-roles-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the store by role', () => {
  it("gives a reader the writer's documents, and no way to write", async () => {
    const writer = await openStoreWriter({ uri: dir });
    const reader = await openStoreReader({ uri: dir });
    try {
      const vector = new Float32Array([1, 0, 0, 0]);
      await writer.replaceDocument(testDocument('lamps'), [
        { text: 'lamps and shades', headingPath: [], start: 0, end: 16, vector },
      ]);
      expect(await reader.getDocument('acme', 'docs', 'lamps')).toMatchObject({ version: 1, chunks: 1 });
      const hits = await reader.search('acme', { vector, model: TEST_MODEL, topK: 1, collection: 'docs' });
      expect(hits.map((hit) => hit.documentId)).toEqual(['lamps']);

      // The compiler refuses a write through a reader, and the object has no write methods either.
      const refused = (r: StoreReader): unknown[] => [
        // @ts-expect-error a reader cannot replace documents
        r.replaceDocument,
        // @ts-expect-error a reader cannot delete documents
        r.deleteDocument,
        // @ts-expect-error a reader runs no maintenance
        r.maintain,
      ];
      expect(refused(reader)).toEqual([undefined, undefined, undefined]);
    } finally {
      await reader.close();
      await writer.close();
    }
  });
});
