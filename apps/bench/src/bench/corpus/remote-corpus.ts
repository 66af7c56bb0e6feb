import type { Client } from '@modelcontextprotocol/client';
import { BENCH_COLLECTION, corpusDocument, corpusLayout, type CorpusInfo } from './corpus.ts';
import { connectSdkClient } from '../../load/load-generator.ts';
import { SyntheticText } from './synthetic-text.ts';

const SUBMITTERS = 4;
const POLL_MS = 250;
const PAGE = 100;

interface DocumentView {
  documentId: string;
  chunks: number;
}

/**
 * The bench corpus in a deployment's `bench` collection, ingested through MCP like any client's
 * documents (the bench cannot write to a remote store). The same documents as the local corpus,
 * whole: the chunker decides their chunk counts, so the collection holds somewhat more chunks than
 * the size asked for. Skipped when the collection already has the corpus's last document at its
 * size (another size's documents, same ids, are replaced).
 */
export async function loadRemoteCorpus(
  url: string,
  headers: Record<string, string>,
  chunks: number,
  log: (line: string) => void,
): Promise<{ info: CorpusInfo; ingested: boolean }> {
  const client = await connectSdkClient(url, headers);
  try {
    const { documents, chunksOf } = corpusLayout(chunks);
    const started = performance.now();
    const ingested = !(await hasCorpus(client, `bench-${documents}`, chunksOf(documents - 1)));
    if (ingested) {
      log(
        `ingesting the corpus (${documents} documents, ~${chunks} chunks) into collection "${BENCH_COLLECTION}" at ${url}`,
      );
      const jobs = await submit(url, headers, documents, chunksOf);
      await waitForJobs(client, jobs, log);
    }
    const stored = await listCorpus(client);
    const info = {
      chunks: stored.reduce((sum, doc) => sum + doc.chunks, 0),
      documents: stored.length,
      model: 'the deployment’s',
      version: 'ingested through MCP',
      buildSeconds: Math.round((performance.now() - started) / 100) / 10,
    };
    return { info, ingested };
  } finally {
    await client.close();
  }
}

/** Whether the corpus's last document is there, as large as this corpus size makes it. */
async function hasCorpus(client: Client, documentId: string, chunks: number): Promise<boolean> {
  const answer = await client.callTool({
    name: 'get_document',
    arguments: { documentId, collection: BENCH_COLLECTION },
  });
  const stored = (answer.structuredContent as { chunks?: number } | undefined)?.chunks ?? 0;
  return answer.isError !== true && stored >= chunks;
}

/** Queues every document (`wait: false`) from a few clients at once; returns the job ids. */
async function submit(
  url: string,
  headers: Record<string, string>,
  documents: number,
  chunksOf: (index: number) => number,
): Promise<string[]> {
  const text = new SyntheticText();
  const jobs: string[] = [];
  let next = 0;
  const send = async () => {
    const client = await connectSdkClient(url, headers);
    try {
      while (next < documents) {
        const index = next++;
        const { documentId, title, content } = corpusDocument(text, index, chunksOf(index));
        const answer = await client.callTool({
          name: 'ingest_document',
          arguments: { content, documentId, title, collection: BENCH_COLLECTION, wait: false },
        });
        const jobId = (answer.structuredContent as { jobId?: string } | undefined)?.jobId;
        if (answer.isError || jobId === undefined)
          throw new Error(`queueing ${documentId} failed: ${JSON.stringify(answer.content)}`);
        jobs.push(jobId);
      }
    } finally {
      await client.close();
    }
  };
  await Promise.all(Array.from({ length: SUBMITTERS }, send));
  return jobs;
}

async function waitForJobs(client: Client, jobs: string[], log: (line: string) => void): Promise<void> {
  for (const [i, jobId] of jobs.entries()) {
    for (;;) {
      const answer = await client.callTool({ name: 'get_job', arguments: { jobId } });
      const state = (answer.structuredContent as { state?: string } | undefined)?.state;
      if (state === 'completed') break;
      if (answer.isError || state === 'failed' || state === 'cancelled') {
        throw new Error(
          `corpus job ${jobId} ended ${state ?? 'in an error'}: ${JSON.stringify(answer.content)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    if ((i + 1) % 10 === 0) log(`  ${i + 1} of ${jobs.length} documents ingested`);
  }
}

async function listCorpus(client: Client): Promise<DocumentView[]> {
  const all: DocumentView[] = [];
  let cursor: string | undefined;
  do {
    const answer = await client.callTool({
      name: 'list_documents',
      arguments: { collection: BENCH_COLLECTION, limit: PAGE, ...(cursor ? { cursor } : {}) },
    });
    const page = answer.structuredContent as { documents?: DocumentView[]; nextCursor?: string } | undefined;
    all.push(...(page?.documents ?? []));
    cursor = page?.nextCursor;
  } while (cursor !== undefined);
  return all;
}
