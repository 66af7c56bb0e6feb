import type { HopperStack } from './hopper-stack.ts';
import { round, type LatencySummary, type ProcessUsage } from '@hopper/harness';
import type { StepPlan } from '../load/load-generator.ts';
import type { Measurement, Target } from './measure.ts';
import type { Peer } from './peers.ts';
import type { Profile } from './profiles.ts';
import type { Workloads } from './workloads.ts';

export type ScenarioId =
  | 'search-cached'
  | 'search-uncached'
  | 'search-topk'
  | 'search-sdk-client'
  | 'tracing-overhead'
  | 'get-job'
  | 'embed-small'
  | 'ingest-ack'
  | 'ingest-throughput'
  | 'progress-latency'
  | 'user-ingest'
  | 'user-ingest-100k';

/** Hopper's figure over a peer's, at the same clients (and variant): throughput and p99. */
export interface Ratio {
  clients: number;
  variant?: string;
  versus: Target;
  /** Hopper's throughput / the peer's: above 1, Hopper answers more calls per second. */
  throughput: number;
  /** Hopper's p99 / the peer's: below 1, Hopper's slow calls are faster. */
  p99: number;
}

export interface IngestThroughput {
  workers: number;
  documents: number;
  chunks: number;
  failed: number;
  /** From releasing the queued jobs to the last one finishing. */
  drainS: number;
  chunksPerS: number;
  chunksPerSPerWorker: number;
  /** Each job's time on a worker (picked up to finished). */
  jobMs: LatencySummary;
  usage: Record<string, ProcessUsage>;
}

/** A read tool the user-ingest scenario calls. */
export type ReadTool = 'search' | 'get_document' | 'list_documents';

export interface ReadFigures {
  calls: number;
  errors: number;
  latencyMs: LatencySummary;
}

export interface UserIngestResult {
  /** What the run was, in the report's "sent" column, when more than how it sent (a preload). */
  label?: string;
  documents: number;
  /** Documents per call: 1 for `POST /v1/documents`, more for batches. */
  perCall: number;
  /** MCP clients reading meanwhile; a run without any has no read figures to report. */
  readers: number;
  failed: number;
  /** Submit of the first document to the last job completed. */
  ingestS: number;
  docsPerS: number;
  chunks: number;
  chunksPerS: number;
  /** 429 answers the submitters waited out. */
  busy: number;
  during: Record<ReadTool, ReadFigures>;
  after: Record<ReadTool, ReadFigures>;
  /** The same reads once the store has come to rest (profiles with `userIngestRestMs`). */
  rest?: Record<ReadTool, ReadFigures>;
}

export interface ProgressLatency {
  jobs: number;
  chunksPerJob: number;
  /** Worker publish (the event's timestamp) → `notifications/progress` at an MCP SDK client. */
  mcp: { events: number; latencyMs: LatencySummary };
  /** Worker publish → the `job:progress` / `job:completed` event at a Socket.IO client. */
  socketIo: { events: number; latencyMs: LatencySummary };
}

export interface ScenarioResult {
  id: ScenarioId;
  title: string;
  /** The corpus it ran on (`10k`), for scenarios that search. */
  corpus?: string;
  description: string;
  measurements: Measurement[];
  ratios: Ratio[];
  throughput?: IngestThroughput;
  progress?: ProgressLatency;
  /**
   * user-ingest: one run per way of sending (one document per call, then batches); user-ingest-100k:
   * the preload, then the measured run.
   */
  userIngest?: UserIngestResult[];
  /** Why it did not run (e.g. it needs the bench's own stack). */
  skipped?: string;
  /** Steps left out, and why. */
  notes?: string[];
}

/** What the scenarios run against and with. */
export interface RunContext {
  profile: Profile;
  workloads: Workloads;
  /** Hopper's MCP endpoint. */
  hopperUrl: string;
  /** Hopper's processes to sample (gateway, worker, redis), when the bench started them. */
  hopperPids: Record<string, number>;
  peers: Peer[];
  /** Extra headers for every call (a bearer token for a deployment with API keys). */
  headers: Record<string, string>;
  /** The bench's own stack; absent when it measures a deployment (`--url`). */
  stack?: HopperStack;
  /**
   * Replaces the servers (those the bench started) that a scenario left much larger than they
   * were fresh, so the next scenario does not measure its aftermath; says which it replaced.
   */
  recycle: () => Promise<string[]>;
  log: (line: string) => void;
}

export function stepPlan(profile: Profile, clients: number): StepPlan {
  return {
    clients,
    warmupMs: profile.warmupMs,
    durationMs: profile.durationMs,
    memoryLimitMb: profile.memoryLimitMb,
  };
}

/** Ratios of Hopper's measurements to each peer's with the same clients and variant. */
export function ratiosOf(measurements: Measurement[], hopper: Target = 'hopper'): Ratio[] {
  const ratios: Ratio[] = [];
  for (const mine of measurements.filter((m) => m.target === hopper)) {
    for (const other of measurements) {
      if (other.target === hopper || other.clients !== mine.clients || other.variant !== mine.variant)
        continue;
      ratios.push({
        clients: mine.clients,
        ...(mine.variant === undefined ? {} : { variant: mine.variant }),
        versus: other.target,
        throughput: other.throughput > 0 ? round(mine.throughput / other.throughput) : 0,
        p99: other.latencyMs.p99 > 0 ? round(mine.latencyMs.p99 / other.latencyMs.p99) : 0,
      });
    }
  }
  return ratios;
}
