import * as z from 'zod';
import { jobKind, jobState } from './jobs.ts';

/** States a progress event can carry: the job states plus `progress` for an update while active. */
export const progressEventState = z.enum([
  'queued',
  'active',
  'progress',
  'completed',
  'failed',
  'cancelled',
]);
export type ProgressEventState = z.infer<typeof progressEventState>;

/**
 * One progress event, published by the worker on the job's channel and persisted as the job's last
 * known state. Shared by the worker (producer), the gateway (MCP progress, Socket.IO) and tests.
 */
export const progressEvent = z.object({
  jobId: z.string(),
  state: progressEventState,
  progress: z.number().min(0).max(1),
  stage: z.string().optional(),
  message: z.string().optional(),
  current: z.number().int().optional(),
  total: z.number().int().optional(),
  ts: z.number(),
});
export type ProgressEvent = z.infer<typeof progressEvent>;

/** Reads a progress event from a pub/sub message; `undefined` for anything that is not one. */
export function parseProgressEvent(message: string): ProgressEvent | undefined {
  try {
    const event = progressEvent.safeParse(JSON.parse(message));
    return event.success ? event.data : undefined;
  } catch {
    return undefined;
  }
}

/** The job as clients see it (`get_job`, `list_jobs`, `hopper://jobs/{id}`). */
export const jobView = z.object({
  jobId: z.string(),
  kind: jobKind,
  documentId: z.string().optional(),
  collection: z.string().optional(),
  state: jobState,
  progress: z.number().min(0).max(1),
  stage: z.string().optional(),
  message: z.string().optional(),
  // JSON values rather than `unknown`: an empty schema (`additionalProperties: {}`) in an output
  // schema is what MCP Inspector's --strict warns about.
  result: z
    .record(z.string(), z.json())
    .optional()
    .describe(
      "The job's outcome once it completed: for an ingest, its chunks and version; for a batch, per-document outcomes; for embeddings, their count.",
    ),
  error: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type JobView = z.infer<typeof jobView>;
