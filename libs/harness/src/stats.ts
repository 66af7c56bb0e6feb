/** Latency percentiles of one measured step, in milliseconds. */
export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/**
 * Latencies of one step, kept as raw samples (a few hundred thousand doubles at most) so the
 * percentiles are exact rather than bucketed.
 */
export class LatencyRecorder {
  #samples = new Float64Array(4096);
  #count = 0;

  get count(): number {
    return this.#count;
  }

  add(ms: number): void {
    if (this.#count === this.#samples.length) {
      const grown = new Float64Array(this.#samples.length * 2);
      grown.set(this.#samples);
      this.#samples = grown;
    }
    this.#samples[this.#count++] = ms;
  }

  summary(): LatencySummary {
    const sorted = this.#samples.slice(0, this.#count).sort();
    let sum = 0;
    for (const value of sorted) sum += value;
    return {
      p50: round(percentile(sorted, 50)),
      p95: round(percentile(sorted, 95)),
      p99: round(percentile(sorted, 99)),
      max: round(sorted.at(-1) ?? 0),
      mean: round(this.#count === 0 ? 0 : sum / this.#count),
    };
  }
}

/**
 * Nearest-rank percentile (`p` in 0..100) of samples sorted ascending; 0 for none. The one
 * definition every measurement of the repository uses, so their figures compare.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? 0;
}

/** p50, p95, p99, max and mean of unsorted samples, rounded as `LatencyRecorder` rounds them. */
export function summarize(values: number[]): LatencySummary {
  const recorder = new LatencyRecorder();
  for (const value of values) recorder.add(value);
  return recorder.summary();
}

/** Rounds to `digits` decimals (2 by default): reports show what a measurement can resolve. */
export function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
