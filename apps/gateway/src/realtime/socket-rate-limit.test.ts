import { describe, expect, it } from 'vitest';
import { LocalTokenBucket } from './socket-rate-limit.ts';

describe('LocalTokenBucket', () => {
  it('grants a burst at once, then one token per interval, and says how long to wait', () => {
    let now = 1_000;
    const bucket = new LocalTokenBucket({ perSecond: 20, burst: 3 }, () => now);
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([0, 0, 0]);
    expect(bucket.take()).toBe(50);
    now += 20;
    // Refusals take nothing: the wait only shrinks as time passes.
    expect(bucket.take()).toBe(30);
    now += 30;
    expect(bucket.take()).toBe(0);
    expect(bucket.take()).toBe(50);
  });

  it('refills to its burst after a quiet spell, never beyond it', () => {
    let now = 0;
    const bucket = new LocalTokenBucket({ perSecond: 2, burst: 2 }, () => now);
    bucket.take();
    bucket.take();
    now += 60_000;
    expect([bucket.take(), bucket.take()]).toEqual([0, 0]);
    expect(bucket.take()).toBe(500);
  });

  it('refuses a rate or burst that could never grant a token', () => {
    expect(() => new LocalTokenBucket({ perSecond: 0, burst: 5 })).toThrow(RangeError);
    expect(() => new LocalTokenBucket({ perSecond: 5, burst: 0 })).toThrow(RangeError);
  });
});
