import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, freePort } from '@hopper/redis';
import { ResultCache } from './result-cache.ts';
import { startRedisServer } from '../../../test/support/redis-server.ts';
import { useTestRedis } from '../../../test/support/test-redis.ts';

const { keys, redis } = useTestRedis();

const options = { keys, l1MaxBytes: 1_000_000, l1TtlMs: 60_000, timeoutMs: 200 };

describe('ResultCache', () => {
  it('computes a burst of identical misses once and serves the rest from L1, then L2 elsewhere', async () => {
    const cache = new ResultCache({ redis: redis(), ...options });
    let computed = 0;
    const compute = async () => {
      computed += 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { answer: 42, list: [1, 2, 3] };
    };
    const key = `${keys.prefix}:burst`;
    const hits = await Promise.all(Array.from({ length: 10 }, () => cache.getOrCompute(key, 60, compute)));
    expect(computed).toBe(1);
    expect(hits.every((h) => h.value.answer === 42)).toBe(true);
    expect((await cache.getOrCompute(key, 60, compute)).layer).toBe('l1');

    const otherProcess = new ResultCache({ redis: redis(), ...options });
    const fromRedis = await otherProcess.getOrCompute(key, 60, compute);
    expect(fromRedis).toEqual({ value: { answer: 42, list: [1, 2, 3] }, layer: 'l2' });
    expect(computed).toBe(1);
  });

  it('a call handed a miss finds what this process stored since, or computes once with the others', async () => {
    const cache = new ResultCache({ redis: redis(), ...options });
    let computed = 0;
    const compute = async () => {
      computed += 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { answer: computed };
    };
    const key = `${keys.prefix}:handed-miss`;
    // Looked up (as the fast path does), missed, then computed by a burst that joins one flight.
    expect(await cache.peek(key)).toBeUndefined();
    const burst = await Promise.all([
      cache.getOrCompute(key, 60, compute, { missed: true }),
      cache.getOrCompute(key, 60, compute, { missed: true }),
      cache.getOrCompute(key, 60, compute),
    ]);
    expect(burst.map((hit) => hit.value)).toEqual([{ answer: 1 }, { answer: 1 }, { answer: 1 }]);
    // A miss handed on after the value was stored here is answered from this process.
    expect(await cache.getOrCompute(key, 60, compute, { missed: true })).toEqual({
      value: { answer: 1 },
      layer: 'l1',
    });
    expect(computed).toBe(1);
    expect(cache.stats()).toMatchObject({ computed: 1, l2: { misses: 1 } });
  });

  it('keeps L1 within its byte budget, falling back to L2 for what it evicted', async () => {
    const cache = new ResultCache({ redis: redis(), ...options, l1MaxBytes: 3_000 });
    const big = 'x'.repeat(1_000);
    for (let i = 0; i < 10; i++) await cache.set(`${keys.prefix}:big:${i}`, { big, i }, 60);
    const oldest = await cache.get<{ i: number }>(`${keys.prefix}:big:0`);
    const newest = await cache.get<{ i: number }>(`${keys.prefix}:big:9`);
    expect(oldest).toMatchObject({ layer: 'l2', value: { i: 0 } });
    expect(newest).toMatchObject({ layer: 'l1', value: { i: 9 } });
  });

  it('renders a hit once per L1 entry, within the byte budget, and never a value the entry no longer holds', async () => {
    const cache = new ResultCache({ redis: redis(), ...options, l1MaxBytes: 5_000 });
    const key = `${keys.prefix}:rendered`;
    await cache.set(key, { text: 'x'.repeat(1_000) }, 60);
    const hit = await cache.peek<{ text: string }>(key);
    expect(hit?.layer).toBe('l1');
    let renders = 0;
    const render = () => {
      renders += 1;
      return Buffer.from(JSON.stringify(hit?.value) + 'y'.repeat(2_000));
    };
    const first = cache.rendered(key, hit?.value, render);
    expect(cache.rendered(key, hit?.value, render)).toBe(first);
    expect(renders).toBe(1);
    // Another value under the key (a stale hit held across an L1 refill) is rendered, not kept.
    const other = Buffer.from('other');
    expect(cache.rendered(key, { text: 'other' }, () => other)).toBe(other);
    expect(cache.rendered(key, hit?.value, render)).toBe(first);
    // The rendering counts: with it, the entry and two more of its size no longer fit in 5,000 bytes.
    for (let i = 0; i < 2; i++)
      await cache.set(`${keys.prefix}:rendered:${i}`, { text: 'x'.repeat(1_000) }, 60);
    expect((await cache.peek(key))?.layer).toBe('l2');
  });

  it('does not count a miss it peeks at', async () => {
    const cache = new ResultCache({ redis: redis(), ...options });
    expect(await cache.peek(`${keys.prefix}:absent`)).toBeUndefined();
    expect(cache.stats()).toMatchObject({ l1: { hits: 0, misses: 0 }, l2: { hits: 0, misses: 0 } });
  });

  it('does not store what `cacheable` refuses', async () => {
    const cache = new ResultCache({ redis: redis(), ...options });
    const key = `${keys.prefix}:running`;
    await cache.getOrCompute(key, 60, () => Promise.resolve({ state: 'active' }), {
      cacheable: (v) => v.state !== 'active',
    });
    expect(await cache.get(key)).toBeUndefined();
  });

  it('answers once computed, before its Redis write lands, and the write lands after', async () => {
    // A Redis of its own: its writes are paused, which would stall every other test's.
    const server = await startRedisServer();
    const clients = [new Redis(server.url), new Redis(server.url), new Redis(server.url)];
    const [own, other, admin] = clients as [Redis, Redis, Redis];
    try {
      // A budget longer than the pause: an answer that waited for its write would come after it.
      const cache = new ResultCache({ redis: own, ...options, timeoutMs: 10_000 });
      const otherProcess = new ResultCache({ redis: other, ...options, timeoutMs: 10_000 });
      const key = `${keys.prefix}:unawaited`;
      let computed = 0;
      const compute = async () => {
        computed += 1;
        // Writes pause once this process holds the flight lock and is computing.
        await admin.call('CLIENT', 'PAUSE', '1500', 'WRITE');
        return { answer: 42 };
      };
      expect(await cache.getOrCompute(key, 60, compute, { distributed: true })).toEqual({
        value: { answer: 42 },
        layer: null,
      });
      // Answered while writes are still paused: the value is not in Redis yet, and the lock is held.
      expect(await admin.get(key)).toBeNull();
      expect(await admin.exists(keys.flightLock(key))).toBe(1);
      // Once writes resume, the value lands and then the lock goes: another process gets the value.
      await expect.poll(() => admin.exists(keys.flightLock(key)), { timeout: 5_000 }).toBe(0);
      expect(await otherProcess.getOrCompute(key, 60, compute, { distributed: true })).toEqual({
        value: { answer: 42 },
        layer: 'l2',
      });
      expect(computed).toBe(1);
    } finally {
      for (const client of clients) client.disconnect();
      await server.stop();
    }
  });

  it('answers from compute while Redis is unreachable, and stops trying once the breaker opens', async () => {
    const dead = new Redis({
      port: await freePort(),
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    dead.on('error', () => undefined);
    const breaker = new CircuitBreaker({ threshold: 3, coolDownMs: 60_000 });
    const errors: string[] = [];
    const cache = new ResultCache({
      redis: dead,
      ...options,
      breaker,
      onError: (e, op) => errors.push(`${op}: ${e.message}`),
    });
    for (let i = 0; i < 5; i++) {
      const hit = await cache.getOrCompute(`k${i}`, 60, () => Promise.resolve(i));
      expect(hit).toEqual({ value: i, layer: null });
    }
    expect(breaker.open).toBe(true);
    expect(errors.some((e) => e.includes('circuit open'))).toBe(true);
    expect(cache.stats().computed).toBe(5);
    dead.disconnect();
  });
});
