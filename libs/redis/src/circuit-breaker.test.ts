import { describe, expect, it } from 'vitest';
import { CircuitBreaker, CircuitOpenError, guarded } from './circuit-breaker.ts';

const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe('guarded', () => {
  it('stops waiting for a slow answer without blaming the dependency for it', async () => {
    const breaker = new CircuitBreaker({ threshold: 3 });
    // Far apart, so a busy machine's late timers cannot reorder them.
    for (let i = 0; i < 6; i++) {
      await expect(guarded(breaker, 5, () => after(300, 'late'))).rejects.toThrow();
    }
    await after(400, undefined);
    // Every late answer did arrive: a busy process, not a broken Redis. The breaker stays closed.
    expect(breaker.open).toBe(false);
    await expect(guarded(breaker, 50, () => after(1, 'fast'))).resolves.toBe('fast');
  });

  it('opens after failures in a row, then lets a trial call through after the cool-down', async () => {
    const breaker = new CircuitBreaker({ threshold: 3, coolDownMs: 50 });
    for (let i = 0; i < 3; i++) {
      await expect(guarded(breaker, 50, () => Promise.reject(new Error('refused')))).rejects.toThrow(
        'refused',
      );
    }
    await expect(guarded(breaker, 50, () => after(1, 'x'))).rejects.toBeInstanceOf(CircuitOpenError);
    await after(60, undefined);
    await expect(guarded(breaker, 50, () => after(1, 'back'))).resolves.toBe('back');
    expect(breaker.open).toBe(false);
  });
});
