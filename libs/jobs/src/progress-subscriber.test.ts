import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createKeys, type ProgressEvent } from '@hopper/contracts';
import { closeRedis, createRedis } from '@hopper/redis';
import { JobRecords } from './job-records.ts';
import { ProgressSubscriber } from './progress-subscriber.ts';

const keys = createKeys(`test-${randomUUID().slice(0, 8)}`);
let redis: Redis;
let subscriberConnection: Redis;
let records: JobRecords;
let progress: ProgressSubscriber;

beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
  // The subscriber connection as the gateway makes it: it reconnects after losing Redis.
  subscriberConnection = createRedis(inject('redisUrl'), {
    name: `progress-test-${randomUUID().slice(0, 8)}`,
    role: 'subscriber',
    onError: () => undefined,
  });
  records = new JobRecords(redis, keys);
  progress = new ProgressSubscriber(subscriberConnection, records, keys);
});

afterAll(async () => {
  progress.close();
  await closeRedis(subscriberConnection);
  const leftovers = await redis.keys(`${keys.prefix}:*`);
  if (leftovers.length > 0) await redis.del(...leftovers);
  redis.disconnect();
});

describe('ProgressSubscriber', () => {
  it('hands a watcher the end of a job that finished while its connection was down', async () => {
    await records.create('t1', 'job-r', { kind: 'ingest', documentId: 'd1' });
    const connectionId = await subscriberConnection.client('ID');
    const seen: ProgressEvent[] = [];
    let finished!: () => void;
    const ended = new Promise<void>((resolve) => (finished = resolve));
    const stop = await progress.watch('t1', 'job-r', (event) => {
      seen.push(event);
      if (event.state === 'completed') finished();
    });

    // The connection drops; the job ends before it is back (ioredis waits ≥ 100 ms to reconnect),
    // so its `completed` event is published to nobody.
    await redis.client('KILL', 'ID', String(connectionId));
    await records.apply('t1', {
      jobId: 'job-r',
      state: 'completed',
      progress: 1,
      stage: 'done',
      ts: Date.now(),
    });

    await ended;
    expect(seen.map((event) => event.state)).toEqual(['queued', 'completed']);
    await stop();
  });
});
