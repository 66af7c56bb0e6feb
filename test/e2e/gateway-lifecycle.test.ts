import { createConnection } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import {
  connectLegacy,
  connectModern,
  structured,
  waitForEmbeddingJob,
  waitForJobEnd,
  type JobOut,
} from '../support/clients.ts';
import { EmbeddingsDouble } from '../support/embeddings-double.ts';
import { paragraphsAbout } from '../support/fault-documents.ts';
import { TestStack, type GatewayHandle, type ProcessHandle } from '../support/stack.ts';

let stack: TestStack;
let embeddings: EmbeddingsDouble;
/** A client on the replica that stays up, to follow jobs after the other one stopped. */
let survivor: Client;
const clients: Client[] = [];

beforeAll(async () => {
  embeddings = await EmbeddingsDouble.start();
  stack = await TestStack.start({
    redisUrl: inject('redisUrl'),
    gateways: 1,
    workers: 1,
    env: embeddings.env,
  });
  survivor = await connectModern(stack.url);
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close().catch(() => undefined)));
});

afterAll(async () => {
  await survivor?.close();
  await stack?.stop();
  await embeddings?.stop();
});

/** Resolves once the process prints a log line containing `text`. */
function waitForLine(handle: ProcessHandle, text: string): Promise<void> {
  if (handle.lines.some((line) => line.includes(text))) return Promise.resolve();
  return new Promise((resolve) => {
    const onData = (chunk: Buffer) => {
      if (!chunk.toString().includes(text)) return;
      handle.process.stdout?.off('data', onData);
      resolve();
    };
    handle.process.stdout?.on('data', onData);
  });
}

/** True when a new TCP connection to the gateway's port is refused (pooled ones do not count). */
function refuses(gateway: GatewayHandle): Promise<boolean> {
  const { hostname, port } = new URL(gateway.url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

/**
 * Resolves true once the gateway refuses new connections: it closes its listening socket a moment
 * after logging "shutting down" (other cleanups run first). False if it still accepts after 5 s.
 */
async function stopsAccepting(gateway: GatewayHandle): Promise<boolean> {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    if (await refuses(gateway)) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

interface Outcome {
  out?: JobOut;
  error?: unknown;
}

interface Waiting {
  gateway: GatewayHandle;
  jobId: string;
  call: Promise<Outcome>;
  settled: () => boolean;
}

/**
 * Starts a second gateway replica and, on it, an `ingest_document` call that waits for its job
 * (with progress); resolves once a worker is embedding that job, so the call is mid-flight.
 */
async function waitingIngest(documentId: string, chunks: number): Promise<Waiting> {
  const gateway = await stack.startGateway();
  const client = await connectModern(gateway.url);
  clients.push(client);
  let settled = false;
  const call: Promise<Outcome> = client
    .callTool(
      { name: 'ingest_document', arguments: { content: paragraphsAbout(documentId, chunks), documentId } },
      { onprogress: () => undefined },
    )
    .then((result) => ({ out: structured<JobOut>(result) }))
    .catch((error: unknown) => ({ error }))
    .finally(() => (settled = true));
  const jobId = await waitForEmbeddingJob(survivor, documentId);
  return { gateway, jobId, call, settled: () => settled };
}

describe('gateway SIGTERM', () => {
  it('stops accepting connections and lets a waiting ingest call finish with its result', async () => {
    embeddings.delayMs = 200;
    const waiting = await waitingIngest('harbour', 225);

    const exited = waiting.gateway.stop('SIGTERM');
    await waitForLine(waiting.gateway, 'shutting down');
    expect(await stopsAccepting(waiting.gateway)).toBe(true);
    // It stopped accepting while the call was still waiting on its job.
    expect(waiting.settled()).toBe(false);

    const { out, error } = await waiting.call;
    expect(error).toBeUndefined();
    expect(out).toMatchObject({ documentId: 'harbour', state: 'completed' });
    expect(await exited).toBe(0);
  });

  describe('with a job that outlasts the drain budget (10 s)', () => {
    let waiting: Waiting;
    /** What the caller had 2 s after its gateway exited (undefined: still nothing). */
    let answer: Outcome | undefined;
    /** The same for a 2025-11-25 (legacy) client waiting on the same gateway, and its progress messages. */
    let legacyAnswer: Outcome | undefined;
    const legacyProgress: string[] = [];

    it('exits within the budget, and the job still completes exactly once', async () => {
      // About 14 batches of 1.2 s: the job outlives the gateway's drain budget.
      embeddings.delayMs = 1_200;
      waiting = await waitingIngest('beacon', 450);
      const { jobId } = waiting;
      // A client of the older protocol era waits on the same gateway.
      const legacy = await connectLegacy(waiting.gateway.url);
      const legacyCall: Promise<Outcome> = legacy
        .callTool(
          {
            name: 'ingest_document',
            arguments: { content: paragraphsAbout('lantern', 40), documentId: 'lantern' },
          },
          undefined,
          { onprogress: (p) => void (p.message && legacyProgress.push(p.message)), timeout: 120_000 },
        )
        .then((result) => ({ out: structured<JobOut>(result) }))
        .catch((error: unknown) => ({ error }));
      while (legacyProgress.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));

      const exited = waiting.gateway.stop('SIGTERM');
      await waitForLine(waiting.gateway, 'shutting down');
      expect(await stopsAccepting(waiting.gateway)).toBe(true);
      expect(await exited).toBe(0);
      answer = await Promise.race([
        waiting.call,
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 2_000)),
      ]);
      legacyAnswer = await Promise.race([
        legacyCall,
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 2_000)),
      ]);
      await legacy.close().catch(() => undefined);

      // Its caller's gateway stopping does not cancel the job: it completes, and only once.
      embeddings.delayMs = 0;
      const done = await waitForJobEnd(survivor, jobId);
      expect(done.state).toBe('completed');
      const document = structured<{ version: number; chunks: number }>(
        await survivor.callTool({ name: 'get_document', arguments: { documentId: 'beacon' } }),
      );
      expect(document.version).toBe(1);
      expect(document.chunks).toBe(done.result?.chunks);
    });

    // At the drain budget the gateway answers calls still waiting with their job handle (the job
    // goes on), instead of cutting their streams.
    it('answers the waiting caller with the job handle before it goes', () => {
      expect(answer).toBeDefined();
      if (!answer || 'error' in answer) throw new Error(`the waiting call failed: ${String(answer?.error)}`);
      expect(answer.out).toMatchObject({ jobId: waiting.jobId, documentId: 'beacon' });
      expect(['queued', 'active', 'completed']).toContain(answer.out?.state);
    });

    it('answers a legacy-era caller the same way, and its progress messages named the job all along', () => {
      if (!legacyAnswer || 'error' in legacyAnswer) {
        throw new Error(`the legacy call failed: ${String(legacyAnswer?.error)}`);
      }
      const jobId = legacyAnswer.out?.jobId;
      expect(legacyAnswer.out).toMatchObject({ documentId: 'lantern' });
      expect(['queued', 'active', 'completed']).toContain(legacyAnswer.out?.state);
      expect(legacyProgress.length).toBeGreaterThan(0);
      for (const message of legacyProgress) expect(message.startsWith(`job ${jobId}: `)).toBe(true);
    });
  });
});
