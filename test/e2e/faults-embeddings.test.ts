import { describe, expect, it } from 'vitest';
import { structured, toolError, type JobOut } from '../support/clients.ts';
import { expectUnchanged, newVersions, paragraphsAbout, viewDocument } from '../support/fault-documents.ts';
import { reportFault } from '../support/faults.ts';
import { useStackWithEmbeddings } from '../support/stack-fixture.ts';

/*
 * Fault: the embeddings provider fails (HTTP 5xx) during an ingest. The worker retries each request
 * with backoff (3 retries) and the queue retries the job (3 attempts, 1 s then 2 s apart); if the
 * provider stays down the job fails with the provider's error and the document keeps its previous
 * version; if it comes back in time the job completes.
 */

const fixture = useStackWithEmbeddings({ workers: 1 });

/** Milliseconds between consecutive requests from `from` on. */
function gaps(times: readonly number[], from: number): number[] {
  return times.slice(from + 1).map((at, i) => at - (times[from + i] ?? at));
}

describe('an embeddings provider that fails during an ingest', () => {
  it('retries with backoff, then fails the job with the provider error and keeps the previous version', async () => {
    const { stack, embeddings, client } = fixture;
    structured(
      await client.callTool({
        name: 'ingest_document',
        arguments: { content: paragraphsAbout('lantern', 3), documentId: 'lamp' },
      }),
    );
    const before = await viewDocument(client, stack.storeUri, 'lamp');

    embeddings.failNext({ kind: 'status', status: 500 });
    const firstRequest = embeddings.requests;
    const startedAt = Date.now();
    const error = toolError(
      await client.callTool({
        name: 'ingest_document',
        arguments: { content: paragraphsAbout('compass', 3), documentId: 'lamp' },
      }),
    );
    const failedAt = Date.now();
    // One batch: each of the 3 job attempts sends it once and retries it 3 times.
    const requests = embeddings.requests - firstRequest;
    expect(requests).toBe(12);
    expect(error).toMatch(/ingest of 'lamp' failed: embeddings endpoint .* returned HTTP 500: server error/);
    expect(error).toContain('gave up after 4 attempts');
    // Backoff: within an attempt the pauses grow (125-250 ms, then 500-1000 ms); between job
    // attempts the queue waits 1 s, then 2 s.
    const pauses = gaps(embeddings.requestTimes, firstRequest);
    expect(pauses[2]).toBeGreaterThan(pauses[0] ?? Number.POSITIVE_INFINITY);
    expect(pauses[3]).toBeGreaterThanOrEqual(1_000);
    expect(pauses[7]).toBeGreaterThanOrEqual(2_000);

    // While the provider is still down, the previous version is intact and found by search.
    const during = await expectUnchanged(client, stack.storeUri, 'lamp', before, {
      kept: 'lantern',
      failed: 'compass',
    });
    embeddings.heal();

    reportFault('embeddings provider HTTP 500 throughout', {
      'jobs lost': 0,
      'requests to the provider': requests,
      'submit → failed ms': failedAt - startedAt,
      'failed versions visible': newVersions(before, during),
    });
  });

  it('completes the job when the provider recovers after 5 failed requests', async () => {
    const { stack, embeddings, client } = fixture;
    embeddings.failNext({ kind: 'status', status: 503 }, 5);
    const firstRequest = embeddings.requests;
    const startedAt = Date.now();
    const out = structured<JobOut & { version: number }>(
      await client.callTool({
        name: 'ingest_document',
        arguments: { content: paragraphsAbout('sextant', 3), documentId: 'sextant' },
      }),
    );
    const completedAt = Date.now();
    // Attempt 1 spends its 4 requests; attempt 2 fails once more, then succeeds.
    expect(embeddings.requests - firstRequest).toBe(6);
    expect(out).toMatchObject({ state: 'completed', version: 1 });
    const document = await viewDocument(client, stack.storeUri, 'sextant');
    expect(document.stored.versions).toEqual([1]);
    expect(await document.hitsFor('sextant')).toHaveLength(document.chunks);

    reportFault('embeddings provider HTTP 503 ×5, then healthy', {
      'jobs lost': 0,
      'duplicate versions': document.stored.versions.length - 1,
      'requests to the provider': embeddings.requests - firstRequest,
      'recovery (submit → completed) ms': completedAt - startedAt,
    });
  });
});
