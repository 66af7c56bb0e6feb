import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createKeys } from '@hopper/contracts';
import { JobRecords } from '@hopper/jobs';
import { closeRedis, createRedis } from '@hopper/redis';
import { TestSocket, baseUrl, checkSequence } from '../support/socket-client.ts';
import { TestStack } from '../support/stack.ts';

/*
 * A burst of progress, as many busy workers publish it: every Socket.IO subscriber still gets every
 * event of its job, in order, then the end. How fast events arrive (progress latency, through MCP
 * and Socket.IO, from real ingests) is measured by the bench (`npm run bench`, progress-latency),
 * not here.
 */

let stack: TestStack;

beforeAll(async () => {
  // Events are published the way the worker publishes them (JobRecords.apply): no worker needed.
  stack = await TestStack.start({ redisUrl: inject('redisUrl'), gateways: 1, workers: 0 });
});

afterAll(async () => {
  await stack?.stop();
});

it('a subscriber gets every progress event of a 400 events/s burst, in order, then the end', async () => {
  const keys = createKeys(stack.prefix);
  const redis = createRedis(inject('redisUrl'), { name: 'burst', role: 'command', onError: () => undefined });
  const records = new JobRecords(redis, keys);
  const socket = await TestSocket.connect(baseUrl(stack.url));
  try {
    const jobIds = Array.from({ length: 20 }, (_, i) => `burst_${i}`);
    for (const jobId of jobIds) {
      await records.create('local', jobId, { kind: 'embed' });
      await socket.subscribe(jobId);
    }
    const perJob = 100;
    const started = performance.now();
    for (let step = 1; step <= perJob; step += 1) {
      for (const [i, jobId] of jobIds.entries()) {
        // Paced against the clock, not slept: 400 events per second overall, 2,000 in all.
        const due = started + ((step - 1) * jobIds.length + i) * 2.5;
        while (performance.now() < due) await new Promise((resolve) => setImmediate(resolve));
        void records.apply('local', {
          jobId,
          state: 'progress',
          progress: step / (perJob + 1),
          stage: 'embedding',
          ts: Date.now(),
        });
      }
    }
    for (const jobId of jobIds)
      await records.apply('local', { jobId, state: 'completed', progress: 1, ts: Date.now() });
    for (const jobId of jobIds) await socket.waitForEnd(jobId);
    await socket.barrier();

    for (const jobId of jobIds) {
      const events = socket.jobEvents(jobId);
      // The first event is the state read at subscribe time; every published one follows it.
      expect(
        events.slice(1).filter((e) => e.name === 'job:progress'),
        jobId,
      ).toHaveLength(perJob);
      expect(checkSequence(events), jobId).toEqual({ terminal: 1, monotonic: true, lastIsTerminal: true });
    }
  } finally {
    socket.close();
    await closeRedis(redis);
  }
});
