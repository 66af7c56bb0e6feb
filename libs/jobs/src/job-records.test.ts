import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createKeys } from '@hopper/contracts';
import { JobRecords } from './job-records.ts';
import { ProgressSubscriber } from './progress-subscriber.ts';

const keys = createKeys(`test-${randomUUID().slice(0, 8)}`);
let redis: Redis;
let subscriberConnection: Redis;
let records: JobRecords;

beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
  subscriberConnection = new Redis(inject('redisUrl'));
  records = new JobRecords(redis, keys);
});

afterAll(async () => {
  const leftovers = await redis.keys(`${keys.prefix}:*`);
  if (leftovers.length > 0) await redis.del(...leftovers);
  redis.disconnect();
  subscriberConnection.disconnect();
});

describe('JobRecords', () => {
  it('creates a record once, and keeps a finished state final', async () => {
    expect(await records.create('t1', 'job-a', { kind: 'ingest', documentId: 'd1' })).toBe(1);
    expect(await records.create('t1', 'job-a', { kind: 'ingest', documentId: 'd1' })).toBe(0);
    expect(
      await records.apply('t1', {
        jobId: 'job-a',
        state: 'progress',
        progress: 0.5,
        stage: 'embedding',
        ts: 1,
      }),
    ).toBe(true);
    expect(await records.apply('t1', { jobId: 'job-a', state: 'cancelled', progress: 0, ts: 2 })).toBe(true);
    // A late event from a worker that had not noticed yet changes nothing.
    expect(await records.apply('t1', { jobId: 'job-a', state: 'completed', progress: 1, ts: 3 })).toBe(false);
    expect(await records.get('t1', 'job-a')).toMatchObject({
      state: 'cancelled',
      documentId: 'd1',
      stage: 'embedding',
    });
    expect(await redis.ttl(keys.job('t1', 'job-a'))).toBeGreaterThan(0);
  });

  it('keeps tenants apart', async () => {
    await records.create('t2', 'job-b', { kind: 'embed' });
    expect(await records.get('t3', 'job-b')).toBeUndefined();
    expect((await records.list('t3', { limit: 10 })).jobs).toEqual([]);
  });

  it('lists newest first, by state, across pages without gaps or repeats', async () => {
    for (let i = 0; i < 25; i++) {
      await records.create('t4', `job-${String(i).padStart(2, '0')}`, { kind: 'ingest' });
      if (i % 2 === 0)
        await records.apply('t4', {
          jobId: `job-${String(i).padStart(2, '0')}`,
          state: 'completed',
          progress: 1,
          ts: Date.now(),
        });
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await records.list('t4', { limit: 4, ...(cursor ? { cursor } : {}) });
      seen.push(...page.jobs.map((j) => j.jobId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(25);
    expect(new Set(seen).size).toBe(25);
    expect(seen[0]).toBe('job-24');
    const completed = await records.list('t4', { limit: 100, state: 'completed' });
    expect(completed.jobs).toHaveLength(13);
    expect(completed.jobs.every((j) => j.state === 'completed')).toBe(true);
    await expect(records.list('t4', { limit: 4, cursor: 'garbage' })).rejects.toThrow(/cursor/);
  });

  it('gives a late subscriber the current state first, then live events', async () => {
    const progress = new ProgressSubscriber(subscriberConnection, records, keys);
    await records.create('t5', 'job-c', { kind: 'ingest' });
    await records.apply('t5', {
      jobId: 'job-c',
      state: 'progress',
      progress: 0.3,
      stage: 'embedding',
      ts: Date.now(),
    });
    const events: { state: string; progress: number }[] = [];
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const stop = await progress.watch('t5', 'job-c', (event) => {
      events.push({ state: event.state, progress: event.progress });
      if (event.state === 'completed') done();
    });
    expect(progress.channelCount).toBe(1);
    await records.apply('t5', { jobId: 'job-c', state: 'completed', progress: 1, ts: Date.now() });
    await finished;
    expect(events).toEqual([
      { state: 'active', progress: 0.3 },
      { state: 'completed', progress: 1 },
    ]);
    await stop();
    expect(progress.channelCount).toBe(0);
  });

  it('holds a slot per queued or running job of a tenant, and refuses one over the limit', async () => {
    const limit = { maxLiveJobs: 2 };
    // Each new job learns its place in its tenant's line.
    expect(await records.create('t6', 'job-1', { kind: 'ingest' }, limit)).toBe(1);
    expect(await records.create('t6', 'job-2', { kind: 'embed' }, limit)).toBe(2);
    // Re-creating a job that already holds a slot does not need another.
    expect(await records.create('t6', 'job-2', { kind: 'embed' }, { ...limit, reset: true })).toBe(2);

    const refusal = records.create('t6', 'job-3', { kind: 'ingest' }, limit);
    await expect(refusal).rejects.toMatchObject({ code: 'busy', retryAfterSeconds: 1 });
    await expect(refusal).rejects.toThrow(/too many jobs queued or running.*limit is 2/);
    expect(await records.get('t6', 'job-3')).toBeUndefined();
    // Another tenant has its own slots.
    expect(await records.create('t7', 'job-3', { kind: 'ingest' }, limit)).toBe(1);

    // A retry (back to queued) keeps the slot; finishing gives it back.
    await records.apply('t6', { jobId: 'job-1', state: 'queued', progress: 0, stage: 'retrying', ts: 1 });
    await expect(records.create('t6', 'job-3', { kind: 'ingest' }, limit)).rejects.toThrow(/too many/);
    await records.apply('t6', { jobId: 'job-1', state: 'failed', progress: 0, ts: 2 });
    expect(await records.create('t6', 'job-3', { kind: 'ingest' }, limit)).toBe(2);
    await records.apply('t6', { jobId: 'job-2', state: 'cancelled', progress: 0, ts: 3 });
    expect(await records.create('t6', 'job-4', { kind: 'delete' }, limit)).toBe(2);
  });

  it('gives back the slot of a job that never finishes once its lease runs out', async () => {
    const leased = new JobRecords(redis, keys, { liveJobLeaseMs: 1_000 });
    const limit = { maxLiveJobs: 1 };
    await leased.create('t8', 'crashed', { kind: 'ingest' }, limit);
    await expect(leased.create('t8', 'next', { kind: 'ingest' }, limit)).rejects.toThrow(/too many/);
    // News from a worker renews the lease...
    await sleep(600);
    await leased.apply('t8', { jobId: 'crashed', state: 'progress', progress: 0.5, ts: 1 });
    await sleep(600);
    await expect(leased.create('t8', 'next', { kind: 'ingest' }, limit)).rejects.toThrow(/too many/);
    // ...and without any, the slot comes back.
    await sleep(600);
    expect(await leased.create('t8', 'next', { kind: 'ingest' }, limit)).toBe(1);
  });
});
