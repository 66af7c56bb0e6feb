import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createKeys } from '@hopper/contracts';
import { JobRecords } from '@hopper/jobs';
import { closeRedis, createRedis } from '@hopper/redis';
import { EmbeddingsDouble } from '../support/embeddings-double.ts';
import { TestSocket, baseUrl, checkSequence, type Received } from '../support/socket-client.ts';
import { TestStack } from '../support/stack.ts';

/*
 * Progress latency, worker publish → Socket.IO client receive, measured on this machine (one clock).
 * A measurement, not a test of speed: it prints median and p99 and asserts only that every event
 * arrived, in order. Run it alone with `npx vitest run test/e2e/progress-latency.test.ts`.
 */

let stack: TestStack;
let embeddings: EmbeddingsDouble;
let url: string;

beforeAll(async () => {
  embeddings = await EmbeddingsDouble.start();
  stack = await TestStack.start({
    redisUrl: inject('redisUrl'),
    gateways: 1,
    workers: 2,
    env: { ...embeddings.env, HOPPER_WORKER_CONCURRENCY: '4' },
  });
  url = baseUrl(stack.url);
});

afterAll(async () => {
  await stack?.stop();
  await embeddings?.stop();
});

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

function report(label: string, latencies: number[]): string {
  const sorted = [...latencies].sort((a, b) => a - b);
  const line =
    `progress latency (${label}): ${sorted.length} events, ` +
    `median ${quantile(sorted, 0.5).toFixed(2)} ms, p99 ${quantile(sorted, 0.99).toFixed(2)} ms, ` +
    `max ${(sorted.at(-1) ?? Number.NaN).toFixed(2)} ms`;
  console.log(line);
  return line;
}

/** Live events of a subscription: everything after the first (the state read at subscribe time). */
function live(events: Received[]): Received[] {
  return events.slice(1);
}

describe('progress latency, worker publish → socket client receive', () => {
  it('real workers running real ingests (16 jobs, 8 at a time)', async () => {
    embeddings.delayMs = 60;
    const socket = await TestSocket.connect(url);
    const jobIds: string[] = [];
    for (let i = 0; i < 16; i += 1) {
      const content = Array.from({ length: 600 }, (_, p) =>
        `Job ${i} paragraph ${p} on latency. `.repeat(14),
      ).join('\n\n');
      const response = await fetch(`${url}/v1/documents`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ content, documentId: `latency-${i}`, collection: 'latency', wait: false }),
      });
      const { jobId } = (await response.json()) as { jobId: string };
      jobIds.push(jobId);
      await socket.subscribe(jobId);
    }
    for (const jobId of jobIds) await socket.waitForEnd(jobId);
    await socket.barrier();

    const latencies: number[] = [];
    for (const jobId of jobIds) {
      const events = socket.jobEvents(jobId);
      expect(checkSequence(events)).toEqual({ terminal: 1, monotonic: true, lastIsTerminal: true });
      // The worker stamps events with Date.now() (whole milliseconds): up to 1 ms is rounding.
      for (const event of live(events)) latencies.push(event.at - (event.payload.ts ?? 0));
    }
    socket.close();
    expect(latencies.length).toBeGreaterThan(50);
    report('16 real ingests, 2 workers', latencies);
  });

  it('the worker publish path at a steady 400 events/s (2,000 events over 20 jobs)', async () => {
    // JobRecords.apply is exactly what the worker calls for each progress event (record + publish).
    const keys = createKeys(stack.prefix);
    const redis = createRedis(inject('redisUrl'), {
      name: 'latency',
      role: 'command',
      onError: () => undefined,
    });
    const records = new JobRecords(redis, keys);
    const socket = await TestSocket.connect(url);
    const jobIds = Array.from({ length: 20 }, (_, i) => `lat_synthetic_${i}`);
    for (const jobId of jobIds) {
      await records.create('local', jobId, { kind: 'embed' });
      await socket.subscribe(jobId);
    }
    const now = () => performance.timeOrigin + performance.now();
    const perJob = 100;
    const started = performance.now();
    for (let step = 1; step <= perJob; step += 1) {
      for (const [i, jobId] of jobIds.entries()) {
        // Paced against the clock, not slept: 400 events per second overall.
        const due = started + ((step - 1) * jobIds.length + i) * 2.5;
        while (performance.now() < due) await new Promise((resolve) => setImmediate(resolve));
        void records.apply('local', {
          jobId,
          state: 'progress',
          progress: step / (perJob + 1),
          stage: 'embedding',
          ts: now(),
        });
      }
    }
    for (const jobId of jobIds)
      await records.apply('local', { jobId, state: 'completed', progress: 1, ts: now() });
    for (const jobId of jobIds) await socket.waitForEnd(jobId);
    await socket.barrier();

    const latencies: number[] = [];
    for (const jobId of jobIds) {
      const events = live(socket.jobEvents(jobId)).filter((e) => e.name === 'job:progress');
      expect(events).toHaveLength(perJob);
      for (const event of events) latencies.push(event.at - (event.payload.ts ?? 0));
    }
    socket.close();
    await closeRedis(redis);
    report('worker publish path, 400 events/s', latencies);
  });
});
