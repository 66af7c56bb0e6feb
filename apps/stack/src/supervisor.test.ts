import { describe, expect, it } from 'vitest';
import { defaultBackoff, nextRestartDelay } from './supervisor.ts';

describe('nextRestartDelay', () => {
  it('doubles from 1 s up to 30 s while the process keeps dying soon after starting', () => {
    const waits: number[] = [];
    let wait: number | undefined;
    for (let i = 0; i < 8; i++) waits.push((wait = nextRestartDelay(wait, 500, defaultBackoff)));
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('starts over once the process stayed up a minute', () => {
    expect(nextRestartDelay(30_000, 60_000, defaultBackoff)).toBe(1_000);
    expect(nextRestartDelay(30_000, 59_000, defaultBackoff)).toBe(30_000);
  });
});
