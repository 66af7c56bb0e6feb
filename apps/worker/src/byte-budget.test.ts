import { describe, expect, it } from 'vitest';
import { ByteBudget } from './byte-budget.ts';

/** A task that holds its bytes until `release` is called. */
function held(): { task: () => Promise<void>; release: () => void; started: boolean } {
  let release = () => undefined as void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const entry = {
    started: false,
    release: () => release(),
    task: async () => {
      entry.started = true;
      await gate;
    },
  };
  return entry;
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('ByteBudget', () => {
  it('runs holders while their bytes fit, and the next in line once bytes come back', async () => {
    const budget = new ByteBudget(100);
    const [a, b, c] = [held(), held(), held()];
    const runs = [budget.run(60, a.task), budget.run(30, b.task), budget.run(20, c.task)];
    await turn();
    expect([a.started, b.started, c.started]).toEqual([true, true, false]);
    expect(budget.used).toBe(90);
    b.release();
    await turn();
    expect(c.started).toBe(true);
    expect(budget.used).toBe(80);
    a.release();
    c.release();
    await Promise.all(runs);
    expect(budget.used).toBe(0);
  });

  it('serves in arrival order: a large body is not passed over by smaller ones behind it', async () => {
    const budget = new ByteBudget(100);
    const [first, large, small] = [held(), held(), held()];
    const runs = [budget.run(50, first.task), budget.run(80, large.task), budget.run(10, small.task)];
    await turn();
    // 10 bytes would fit beside the first, but the large one came before it.
    expect([first.started, large.started, small.started]).toEqual([true, false, false]);
    first.release();
    await turn();
    expect([large.started, small.started]).toEqual([true, true]);
    large.release();
    small.release();
    await Promise.all(runs);
  });

  it('runs a body larger than the whole budget alone rather than never', async () => {
    const budget = new ByteBudget(100);
    const [huge, next] = [held(), held()];
    const runs = [budget.run(500, huge.task), budget.run(1, next.task)];
    await turn();
    expect([huge.started, next.started]).toEqual([true, false]);
    huge.release();
    await turn();
    expect(next.started).toBe(true);
    next.release();
    await Promise.all(runs);
  });

  it('gives the bytes back when a task fails, and lets a waiter give up without taking any', async () => {
    const budget = new ByteBudget(100);
    await expect(budget.run(100, () => Promise.reject(new Error('parse failed')))).rejects.toThrow(
      'parse failed',
    );
    expect(budget.used).toBe(0);

    const first = held();
    const running = budget.run(100, first.task);
    const controller = new AbortController();
    const behind = held();
    const waiting = budget.run(10, behind.task, controller.signal);
    controller.abort(new Error('cancelled by request'));
    await expect(waiting).rejects.toThrow('cancelled by request');
    first.release();
    await running;
    expect(behind.started).toBe(false);
    expect(budget.used).toBe(0);
  });
});
