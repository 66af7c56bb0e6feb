import { describe, expect, it } from 'vitest';
import { structured, toolError, type JobOut } from '../support/clients.ts';
import { expectUnchanged, newVersions, paragraphsAbout, viewDocument } from '../support/fault-documents.ts';
import { reportFault } from '../support/faults.ts';
import { useStackWithEmbeddings } from '../support/stack-fixture.ts';

/*
 * Fault: the embeddings provider accepts requests and never answers (a hung server, a black-holed
 * connection). Each request must time out (HOPPER_EMBEDDINGS_TIMEOUT_MS), be retried with backoff,
 * and the job fail with a message that says so, leaving the previous version in place.
 */

const TIMEOUT_MS = 500;

const fixture = useStackWithEmbeddings({
  workers: 1,
  env: { HOPPER_EMBEDDINGS_TIMEOUT_MS: String(TIMEOUT_MS) },
});

describe('an embeddings provider that hangs during an ingest', () => {
  it('times every request out, retries, then fails the job and keeps the previous version', async () => {
    const { stack, embeddings, client } = fixture;
    structured(
      await client.callTool({
        name: 'ingest_document',
        arguments: { content: paragraphsAbout('anchor', 3), documentId: 'anchor' },
      }),
    );
    const before = await viewDocument(client, stack.storeUri, 'anchor');

    embeddings.failNext({ kind: 'hang' });
    const firstRequest = embeddings.requests;
    const startedAt = Date.now();
    const error = toolError(
      await client.callTool({
        name: 'ingest_document',
        arguments: { content: paragraphsAbout('rudder', 3), documentId: 'anchor' },
      }),
    );
    const failedAt = Date.now();
    const requests = embeddings.requests - firstRequest;
    expect(requests).toBe(12);
    expect(error).toMatch(
      new RegExp(`ingest of 'anchor' failed: embeddings endpoint .* did not answer within ${TIMEOUT_MS} ms`),
    );
    expect(error).toContain('gave up after 4 attempts');

    const during = await expectUnchanged(client, stack.storeUri, 'anchor', before, {
      kept: 'anchor',
      failed: 'rudder',
    });
    embeddings.heal();

    reportFault('embeddings provider hangs throughout', {
      'jobs lost': 0,
      'requests to the provider': requests,
      'submit → failed ms': failedAt - startedAt,
      'failed versions visible': newVersions(before, during),
    });
  });

  it('completes the job when the provider answers again after 2 hung requests', async () => {
    const { stack, embeddings, client } = fixture;
    embeddings.failNext({ kind: 'hang' }, 2);
    const firstRequest = embeddings.requests;
    const startedAt = Date.now();
    const out = structured<JobOut & { version: number }>(
      await client.callTool({
        name: 'ingest_document',
        arguments: { content: paragraphsAbout('anchor chain', 3), documentId: 'anchor' },
      }),
    );
    const completedAt = Date.now();
    expect(embeddings.requests - firstRequest).toBe(3);
    expect(out).toMatchObject({ state: 'completed', version: 2 });
    const document = await viewDocument(client, stack.storeUri, 'anchor');
    expect(document.stored.versions).toEqual([2]);

    reportFault('embeddings provider hangs ×2, then healthy', {
      'jobs lost': 0,
      'duplicate versions': document.stored.versions.length - 1,
      'requests to the provider': embeddings.requests - firstRequest,
      'recovery (submit → completed) ms': completedAt - startedAt,
    });
  });
});
