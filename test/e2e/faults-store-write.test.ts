import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { connectModern, structured, toolError, type JobOut } from '../support/clients.ts';
import { expectUnchanged, newVersions, paragraphsAbout, viewDocument } from '../support/fault-documents.ts';
import { reportFault } from '../support/faults.ts';
import { TestStack } from '../support/stack.ts';

/*
 * Fault: a store write fails. Hopper writes a version in two commits, the chunks first and the
 * document record last, and either may fail. The fault is real: the table's `_transactions`
 * directory is replaced by a file, so LanceDB cannot commit to that table while reads go on. (Tests
 * may run as root, where a read-only chmod stops nothing; a file where a directory must be stops
 * everyone.) When the record's commit fails, the chunks already committed must be taken back.
 */

let stack: TestStack;
let client: Client;

beforeAll(async () => {
  stack = await TestStack.start({ redisUrl: inject('redisUrl'), workers: 1 });
  client = await connectModern(stack.url);
});

afterAll(async () => {
  await client?.close();
  await stack?.stop();
});

/** Makes every commit to `table` fail until the returned function undoes it. */
async function breakCommits(table: string): Promise<() => Promise<void>> {
  const transactions = join(stack.storeUri, `${table}.lance`, '_transactions');
  const aside = `${transactions}.aside`;
  await rename(transactions, aside);
  await writeFile(transactions, 'a file where LanceDB needs a directory');
  return async () => {
    await rm(transactions);
    await rename(aside, transactions);
  };
}

describe('a store write that fails', () => {
  it.each([
    { table: 'documents', when: 'after the chunks were committed', documentId: 'hull' },
    { table: 'chunks_delta', when: 'at the chunks commit', documentId: 'deck' },
  ])(
    '$when: fails the job, keeps the previous version, and a later ingest succeeds',
    async ({ table, when, documentId }) => {
      structured(
        await client.callTool({
          name: 'ingest_document',
          arguments: { content: paragraphsAbout(`${documentId} keel`, 4), documentId },
        }),
      );
      const before = await viewDocument(client, stack.storeUri, documentId);
      expect(before.stored.versions).toEqual([1]);

      const repair = await breakCommits(table);
      const startedAt = Date.now();
      const error = toolError(
        await client.callTool({
          name: 'ingest_document',
          arguments: { content: paragraphsAbout(`${documentId} mast`, 6), documentId },
        }),
      );
      const failedAt = Date.now();
      expect(error).toContain(
        `ingest of '${documentId}' failed: Document store write failed; the previous version of "${documentId}" is unchanged`,
      );
      // Checked while the fault is still there: nothing of the failed version is visible.
      const during = await expectUnchanged(client, stack.storeUri, documentId, before, {
        kept: 'keel',
        failed: 'mast',
      });

      await repair();
      const repairedAt = Date.now();
      const out = structured<JobOut & { version: number; chunks: number }>(
        await client.callTool({
          name: 'ingest_document',
          arguments: { content: paragraphsAbout(`${documentId} mast`, 6), documentId },
        }),
      );
      const completedAt = Date.now();
      expect(out).toMatchObject({ state: 'completed', version: 2 });
      const after = await viewDocument(client, stack.storeUri, documentId);
      expect(after.stored.versions).toEqual([2]);
      expect(after.stored.rows).toBe(out.chunks);
      expect(await after.hitsFor('keel')).toEqual([]);
      expect(await after.hitsFor('mast')).toHaveLength(out.chunks);

      reportFault(`store commit fails ${when}`, {
        'jobs lost': 0,
        'half-written versions visible': newVersions(before, during),
        'submit → failed ms': failedAt - startedAt,
        'repair → next ingest completed ms': completedAt - repairedAt,
      });
    },
  );
});
