import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, inject } from 'vitest';
import { createKeys, type Keys } from '@hopper/contracts';

/**
 * For a test file: a connection to the suite's redis-server (vitest's global setup starts it) and
 * a key prefix of the file's own, whose keys are deleted after the file's tests.
 */
export function useTestRedis(): { keys: Keys; redis: () => Redis } {
  const keys = createKeys(`test-${randomUUID().slice(0, 8)}`);
  let redis: Redis | undefined;
  beforeAll(() => {
    redis = new Redis(inject('redisUrl'));
  });
  afterAll(async () => {
    if (!redis) return;
    const leftovers = await redis.keys(`${keys.prefix}:*`);
    if (leftovers.length > 0) await redis.del(...leftovers);
    redis.disconnect();
  });
  return { keys, redis: () => redis as Redis };
}
