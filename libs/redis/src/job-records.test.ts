import { randomUUID } from 'node:crypto';
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
    expect(await records.create('t1', 'job-a', { kind: 'ingest', documentId: 'd1' })).toBe(true);
    expect(await records.create('t1', 'job-a', { kind: 'ingest', documentId: 'd1' })).toBe(false);
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
});
