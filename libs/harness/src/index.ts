export {
  killStarted,
  startNode,
  track,
  warningsOf,
  type NodeProcess,
  type StartNodeOptions,
} from './process.ts';
export { LatencyRecorder, percentile, round, summarize, type LatencySummary } from './stats.ts';
export {
  cpuSeconds,
  peakRssMb,
  rssMb,
  UsageSampler,
  waitUntilIdle,
  watchMemory,
  type ProcessUsage,
} from './usage.ts';
export { writeReportFiles } from './report-files.ts';
