/**
 * Process samples and their trends. The figures come from each process's `/metrics`, where
 * prom-client's default metrics already export them; nothing is added to the processes for the soak.
 */

/** The default metrics the soak follows, by the name prom-client gives them. */
export const sampledMetrics = {
  rssBytes: 'process_resident_memory_bytes',
  heapUsedBytes: 'nodejs_heap_size_used_bytes',
  /** Buffers and ArrayBuffers held from JavaScript (Arrow batches, Redis replies): outside the heap, inside RSS. */
  externalBytes: 'nodejs_external_memory_bytes',
  handles: 'nodejs_active_handles_total',
  /** What LanceDB's index and metadata caches hold: bounded, so it levels off once they are full. */
  storeCacheBytes: 'hopper_store_cache_bytes',
  cpuSeconds: 'process_cpu_seconds_total',
} as const;
export type SampledMetric = keyof typeof sampledMetrics;

export interface Sample {
  /** Minutes since the traffic started. */
  minute: number;
  values: Record<SampledMetric, number>;
}

/** Reads the sampled metrics from a Prometheus text exposition (the first series of each name). */
export function parseMetrics(text: string): Record<SampledMetric, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match && !found.has(match[1]!)) found.set(match[1]!, Number(match[2]));
  }
  const values = {} as Record<SampledMetric, number>;
  for (const [key, name] of Object.entries(sampledMetrics) as [SampledMetric, string][]) {
    const value = found.get(name);
    if (value === undefined || Number.isNaN(value)) throw new Error(`/metrics has no ${name}`);
    values[key] = value;
  }
  return values;
}

export async function scrape(metricsUrl: string): Promise<Record<SampledMetric, number>> {
  const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`${metricsUrl} answered ${response.status}`);
  return parseMetrics(await response.text());
}

/** Least-squares slope of `y` over `x` (0 with fewer than two distinct x). */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const meanX = points.reduce((sum, p) => sum + p.x, 0) / n;
  const meanY = points.reduce((sum, p) => sum + p.y, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const p of points) {
    covariance += (p.x - meanX) * (p.y - meanY);
    variance += (p.x - meanX) ** 2;
  }
  return variance === 0 ? 0 : covariance / variance;
}

export interface Trend {
  first: number;
  last: number;
  max: number;
  /** Least-squares slope over the samples after the warm-up, per minute. */
  slopePerMinute: number;
}

/** A value over time, in minutes since the traffic started. */
export interface Point {
  minute: number;
  value: number;
}

/** One metric of a process's samples, scaled (e.g. bytes to MB). */
export function series(samples: readonly Sample[], metric: SampledMetric, scale = 1): Point[] {
  return samples.map((s) => ({ minute: s.minute, value: s.values[metric] * scale }));
}

/**
 * RSS less what LanceDB's caches count. The index cache climbs towards its bound
 * (HOPPER_STORE_INDEX_CACHE_MB) for as long as writes bring new index versions, which under the
 * soak's writes takes hours; the rest of RSS levels off once the warm-up is over (heap sized, result
 * cache full), so a leak shows there. V8's committed heap is not taken out as well: it counts pages
 * that are not resident, and swings by ~100 MB when V8 resizes its young generation.
 */
export function outsideCachesSeries(samples: readonly Sample[], scale = 1): Point[] {
  return samples.map((s) => ({
    minute: s.minute,
    value: (s.values.rssBytes - s.values.storeCacheBytes) * scale,
  }));
}

/** First, last and largest value, and the slope over the points from `fromMinute` on. */
export function trend(points: readonly Point[], fromMinute: number): Trend {
  const values = points.map((p) => p.value);
  return {
    first: values[0] ?? 0,
    last: values.at(-1) ?? 0,
    max: values.length > 0 ? Math.max(...values) : 0,
    slopePerMinute: slope(
      points.filter((p) => p.minute >= fromMinute).map((p) => ({ x: p.minute, y: p.value })),
    ),
  };
}

/**
 * The largest RSS slope (MB per minute, fitted over `windowMinutes` after the warm-up) that is not
 * called growth. Two bounds, the larger wins:
 *
 * - Resolution: with garbage collections, V8 growing its heap and native caches filling, RSS moves
 *   by about RSS_SWING_MB within minutes without any leak, so a slope fitted over a window of W
 *   minutes cannot tell growth below about RSS_SWING_MB / W from that.
 * - Relevance: below FLOOR_MB_PER_MINUTE a leak takes longer to matter than a soak can show. At
 *   1 MB/min a gateway would still need about eight hours to grow from ~500 MB to the 1 GiB limit
 *   of its Kubernetes manifest; a longer soak (`--minutes 60`) narrows the first bound down
 *   to this floor.
 *
 * Twenty minutes (a ten-minute window) thus flag 1 MB/min: about 0.5 KB per call at ~1,800 calls a
 * minute, or a gateway with full caches reaching its pod's limit within about eight hours.
 */
export function rssSlopeLimit(windowMinutes: number): number {
  return Math.max(FLOOR_MB_PER_MINUTE, RSS_SWING_MB / Math.max(windowMinutes, 0.1));
}
const RSS_SWING_MB = 10;
const FLOOR_MB_PER_MINUTE = 1;

/**
 * Below this window a slope says more about warm-up than about leaks: the processes' RSS still
 * climbs for the first minutes of traffic (heap sizing, JIT, caches), so a short run does not
 * judge the trend and only keeps RSS under the pods' memory limits.
 */
export const MIN_TREND_WINDOW_MINUTES = 2;

/** The memory limits of the Kubernetes manifests (infra/k8s/base): a process over it would be killed. */
export const podMemoryLimitMb = { gateway: 3072, worker: 1024 } as const;
