import { expect } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { structured } from './clients.ts';
import { storedChunks, type StoredChunks } from './faults.ts';

/**
 * A document of `paragraphs` chunks whose every chunk names `word`, so a search can find it: each
 * paragraph stays under the default chunk size (1200 characters), so it is one chunk, and tests
 * size a job's embedding time by it (one embedding batch per 32 chunks).
 */
export function paragraphsAbout(word: string, paragraphs: number): string {
  return Array.from({ length: paragraphs }, (_, i) =>
    `Paragraph ${i} tells how the ${word} was kept and mended through the winter. `.repeat(14),
  ).join('\n\n');
}

/** What a user sees of a document: its record, and which of its chunks a search for `word` returns. */
export interface DocumentView {
  version: number;
  chunks: number;
  stored: StoredChunks;
  /** Texts of this document's chunks a search for `word` returns (text mode: no embeddings needed). */
  hitsFor(word: string): Promise<string[]>;
}

export async function viewDocument(
  client: Client,
  storeUri: string,
  documentId: string,
): Promise<DocumentView> {
  const record = structured<{ version: number; chunks: number }>(
    await client.callTool({ name: 'get_document', arguments: { documentId } }),
  );
  return {
    version: record.version,
    chunks: record.chunks,
    stored: await storedChunks(storeUri, documentId),
    async hitsFor(word: string) {
      const { results } = structured<{ results: { documentId: string; text: string }[] }>(
        await client.callTool({ name: 'search', arguments: { query: word, mode: 'text', topK: 50 } }),
      );
      return results.filter((hit) => hit.documentId === documentId).map((hit) => hit.text);
    },
  };
}

/**
 * The previous version is exactly as it was: same record, same chunk rows and texts, one version
 * in the store, and no chunk of the failed version found by a search for its words. Returns what
 * it saw.
 */
export async function expectUnchanged(
  client: Client,
  storeUri: string,
  documentId: string,
  before: DocumentView,
  words: { kept: string; failed: string },
): Promise<DocumentView> {
  const after = await viewDocument(client, storeUri, documentId);
  expect(after.version).toBe(before.version);
  expect(after.chunks).toBe(before.chunks);
  expect(after.stored).toEqual(before.stored);
  expect(await after.hitsFor(words.failed)).toEqual([]);
  expect((await after.hitsFor(words.kept)).length).toBeGreaterThan(0);
  return after;
}

/** Versions in the store that were not there before (for the fault table: should be none). */
export function newVersions(before: DocumentView, after: DocumentView): number {
  return after.stored.versions.filter((version) => !before.stored.versions.includes(version)).length;
}
