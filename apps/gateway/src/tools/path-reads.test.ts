import { describe, expect, it } from 'vitest';
import { HopperError } from '@hopper/contracts';
import { PathReads } from './path-reads.ts';

/** A piece of work that runs until released, recording that it started. */
function held(started: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return { work: () => (started.push(name), done.then(() => name)), release };
}

describe('PathReads', () => {
  it('runs at most the cap at once, queues up to the bound, and answers busy beyond it', async () => {
    const reads = new PathReads({ maxConcurrent: 2, maxQueued: 1 });
    const started: string[] = [];
    const [a, b, c] = [held(started, 'a'), held(started, 'b'), held(started, 'c')];
    const running = [reads.run(a.work), reads.run(b.work), reads.run(c.work)];
    await Promise.resolve();
    expect(started).toEqual(['a', 'b']);

    const refused: unknown = await reads.run(() => Promise.resolve('d')).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(HopperError);
    expect(refused).toMatchObject({ code: 'busy', retryAfterSeconds: 2 });
    expect((refused as Error).message).toMatch(
      /too many path ingests on this gateway: 2 files being read, 1 waiting; retry after 2 s/,
    );

    a.release();
    await running[0];
    expect(started).toEqual(['a', 'b', 'c']);
    b.release();
    c.release();
    expect(await Promise.all(running)).toEqual(['a', 'b', 'c']);
    // Every turn was given back: the cap is free again.
    expect(await reads.run(() => Promise.resolve('e'))).toBe('e');
  });

  it('gives the turn back when the work fails', async () => {
    const reads = new PathReads({ maxConcurrent: 1, maxQueued: 0 });
    await expect(reads.run(() => Promise.reject(new Error('unreadable')))).rejects.toThrow('unreadable');
    expect(await reads.run(() => Promise.resolve('next'))).toBe('next');
  });
});
