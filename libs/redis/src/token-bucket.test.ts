import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createKeys } from '@hopper/contracts';
import { TokenBucket } from './token-bucket.ts';

const keys = createKeys(`test-${randomUUID().slice(0, 8)}`);
let redis: Redis;

beforeAll(() => {
  redis = new Redis(inject('redisUrl'), { enableAutoPipelining: true });
});

afterAll(async () => {
  const leftovers = await redis.keys(`${keys.prefix}:*`);
  if (leftovers.length > 0) await redis.del(...leftovers);
  redis.disconnect();
});

describe('TokenBucket', () => {
  it('allows a burst, then refuses with the time until the next token, then refills', async () => {
    const bucket = new TokenBucket({ redis, keys, ratePerSecond: 2, burst: 3 });
    const burst = [await bucket.take('t1'), await bucket.take('t1'), await bucket.take('t1')];
    expect(burst.map((grant) => grant.allowed)).toEqual([true, true, true]);
    expect(burst.map((grant) => grant.remaining)).toEqual([2, 1, 0]);

    const refused = await bucket.take('t1');
    expect(refused.allowed).toBe(false);
    // At 2 tokens per second the next one is at most half a second away.
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(500);

    await sleep(refused.retryAfterMs + 20);
    expect((await bucket.take('t1')).allowed).toBe(true);
  });

  it('keeps tenants apart', async () => {
    const bucket = new TokenBucket({ redis, keys, ratePerSecond: 0.1, burst: 1 });
    expect((await bucket.take('t2')).allowed).toBe(true);
    expect((await bucket.take('t2')).allowed).toBe(false);
    expect((await bucket.take('t3')).allowed).toBe(true);
  });

  it('grants exactly the burst to concurrent callers (the script is atomic)', async () => {
    const bucket = new TokenBucket({ redis, keys, ratePerSecond: 0.1, burst: 5 });
    const grants = await Promise.all(Array.from({ length: 20 }, () => bucket.take('t4')));
    expect(grants.filter((grant) => grant.allowed)).toHaveLength(5);
    // Nothing refills for ten seconds: every refusal says so.
    for (const grant of grants.filter((g) => !g.allowed)) expect(grant.retryAfterMs).toBeGreaterThan(5_000);
  });

  it('lets an idle bucket expire, since a full bucket needs no key', async () => {
    const bucket = new TokenBucket({ redis, keys, ratePerSecond: 100, burst: 10 });
    await bucket.take('t5');
    const ttl = await redis.pttl(keys.rateLimit('t5'));
    // One token to refill at 100/s (10 ms) plus a second of slack.
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1_010);
  });

  it('refuses a configuration that could never grant a call', () => {
    expect(() => new TokenBucket({ redis, keys, ratePerSecond: 0, burst: 5 })).toThrow(RangeError);
    expect(() => new TokenBucket({ redis, keys, ratePerSecond: 5, burst: 0 })).toThrow(RangeError);
  });
});
