import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { getJob, queueIngest, structured, waitForJob, waitForJobEnd } from '../support/clients.ts';
import { paragraphsAbout } from '../support/fault-documents.ts';
import { useStackWithEmbeddings } from '../support/stack-fixture.ts';

const fixture = useStackWithEmbeddings({ workers: 0 });

/** Queues an ingest of `paragraphs` chunks and resolves once a worker is embedding it. */
async function ingestUntilEmbedding(documentId: string, paragraphs: number): Promise<string> {
  const { client } = fixture;
  const jobId = await queueIngest(client, { content: paragraphsAbout('crane', paragraphs), documentId });
  await waitForJob(client, jobId, (j) => j.stage === 'embedding');
  return jobId;
}

describe('worker SIGTERM', () => {
  it('finishes the running job when it fits in the drain budget', async () => {
    const { stack, embeddings, client } = fixture;
    const worker = await stack.startWorker();
    embeddings.delayMs = 100;
    const jobId = await ingestUntilEmbedding('short', 100);
    expect(await worker.stop('SIGTERM')).toBe(0);
    const done = await getJob(client, jobId);
    expect(done.state).toBe('completed');
    expect(done.result?.version).toBe(1);
  });

  it('hands a long job back to the queue, and another worker completes it exactly once', async () => {
    const { stack, embeddings, client } = fixture;
    const worker = await stack.startWorker({ HOPPER_WORKER_DRAIN_MS: '200' });
    embeddings.delayMs = 150;
    const jobId = await ingestUntilEmbedding('long', 300);
    expect(await worker.stop('SIGTERM')).toBe(0);
    const handedBack = await getJob(client, jobId);
    expect(handedBack).toMatchObject({ state: 'queued', stage: 'requeued' });

    embeddings.delayMs = 0;
    await stack.startWorker();
    const done = await waitForJobEnd(client, jobId);
    expect(done.state).toBe('completed');
    const document = structured<{ version: number; chunks: number }>(
      await client.callTool({ name: 'get_document', arguments: { documentId: 'long' } }),
    );
    expect(document.version).toBe(1);
    expect(document.chunks).toBe(done.result?.chunks);
  });
});

/** The nice value of each thread of a process (Linux: field 19 of /proc/<pid>/task/<tid>/stat). */
function threadNices(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // The command name may hold spaces; the fields after its closing parenthesis do not.
      return [Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])];
    } catch {
      return []; // a thread that ended since the listing
    }
  });
}

describe.runIf(process.platform === 'linux')('worker priority', () => {
  it('runs every thread of the worker, the store threads included, below the gateway', async () => {
    const { stack, embeddings, client } = fixture;
    const worker = await stack.startWorker({ HOPPER_WORKER_NICE: '7' });
    embeddings.delayMs = 0;
    // An ingest and a commit start the store's and the parser's threads.
    const jobId = await queueIngest(client, { content: paragraphsAbout('heron', 40), documentId: 'nice' });
    expect((await waitForJobEnd(client, jobId)).state).toBe('completed');
    const nices = threadNices(worker.process.pid as number);
    expect(nices.length).toBeGreaterThan(5);
    expect(nices.filter((nice) => nice < 7)).toEqual([]);
    await worker.stop();
  });
});
