import {
  DEFAULT_COLLECTION,
  HopperError,
  isHopperError,
  toolContracts,
  toolScopes,
  type CallContext,
  type JobKind,
  type JobView,
  type ToolHandlers,
  type ToolInput,
} from '@hopper/contracts';
import { FINISHED_JOB_TTL_SECONDS, PAYLOAD_TTL_SECONDS, jobResult, type JobsService } from '@hopper/jobs';
import type { Logger } from '@hopper/lifecycle';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { batchOutput } from '../tools/batch-tools.ts';
import { embedJobOutcome, ingestOutput } from '../tools/job-tools.ts';
import { internalError } from './json-rpc.ts';
import type { DetailedTask, Task, TaskCall, TaskSource, TaskStart } from './task-path.ts';
import { toolFailure, toolSuccess } from './tool-result.ts';

/**
 * How long a task stays readable, from its creation: a job's record lives while the job is queued or
 * running, and for FINISHED_JOB_TTL_SECONDS after it finished (job-records.ts), so a week from
 * creation is a floor Hopper always keeps. Tasks share their job's record; nothing else is kept.
 */
export const TASK_TTL_MS = FINISHED_JOB_TTL_SECONDS * 1000;

/**
 * An embedding task's: its vectors are kept PAYLOAD_TTL_SECONDS (a day) after the job ended
 * (worker's embed-handler.ts), so a day from creation is what its result is readable for.
 */
export const EMBED_TASK_TTL_MS = PAYLOAD_TTL_SECONDS * 1000;

/**
 * The polling pace suggested to clients. A `tasks/get` is one hash read in Redis (no MCP server is
 * built), and an ingest takes seconds: once a second shows progress moving without load worth
 * mentioning.
 */
export const TASK_POLL_INTERVAL_MS = 1_000;

/** What a task's job reads to build its result. */
export type TaskJobs = Pick<JobsService, 'get' | 'readEmbedOutput'>;

/**
 * The tools that answer with a task, each with the job kind it queues, how long the task is kept,
 * and how a finished job of that kind becomes the tool's output: what a waiting call ends with, so a
 * completed task's `result` is what the waiting call returns (a failed job throws the same error,
 * and so becomes the same `isError` result).
 */
const TASK_TOOLS = {
  ingest_document: {
    kind: 'ingest',
    ttlMs: TASK_TTL_MS,
    output: (view: JobView) => ingestOutput(view, view.documentId ?? ''),
  },
  ingest_documents: {
    kind: 'batch',
    ttlMs: TASK_TTL_MS,
    output: (view: JobView) =>
      batchOutput(
        view,
        view.collection ?? DEFAULT_COLLECTION,
        jobResult('batch', view)?.documents.length ?? 0,
      ),
  },
  // Only the large batches that go onto the embed queue are tasks; a small one answers inline.
  embed_texts: {
    kind: 'embed',
    ttlMs: EMBED_TASK_TTL_MS,
    output: async (view: JobView, jobs: TaskJobs, tenant: string) => {
      const done = embedJobOutcome(view);
      const embeddings = await jobs.readEmbedOutput(tenant, view.jobId, done.count);
      if (!embeddings) {
        throw new HopperError(
          'not_found',
          `the vectors of embedding job ${view.jobId} are no longer kept (a day after it ended); send the texts again`,
        );
      }
      return { model: done.model, dimensions: done.dimensions, embeddings };
    },
  },
} as const satisfies Record<
  string,
  {
    kind: JobKind;
    ttlMs: number;
    output: (view: JobView, jobs: TaskJobs, tenant: string) => object | Promise<object>;
  }
>;
type TaskTool = keyof typeof TASK_TOOLS;

const toolOfKind = new Map<JobKind, TaskTool>(
  Object.entries(TASK_TOOLS).map(([tool, { kind }]) => [kind, tool as TaskTool]),
);

export interface JobTasksDeps {
  /** The tool chain every call goes through (timing, rate limit, handler). */
  handlers: Pick<ToolHandlers, TaskTool>;
  jobs: TaskJobs & Pick<JobsService, 'requestCancel'>;
  logger: Logger;
}

/**
 * Hopper's jobs as MCP tasks (served by task-path.ts):
 *
 * - `ingest_document`, `ingest_documents` and a large `embed_texts` (one that goes onto the embed
 *   queue; a small one answers inline, as before) start as tasks: the call goes through the same
 *   handler chain as any call (rate limit, timing), without waiting for the job, and its task id is
 *   the job id, answered once the job's record is written (a `tasks/get` on any replica resolves from
 *   then on). A call refused before a job exists (a bad document, the tenant's job limit) answers as
 *   it always does: a tool result with `isError`. A call without the tool's scope, or with arguments
 *   its contract refuses, is left to the SDK, which answers it as any call.
 * - A task is the job's record: `working` while queued or running, with the stage and progress as
 *   `statusMessage`; `completed` with the waiting call's result inlined, `isError` when the job
 *   failed (the spec keeps `failed` for JSON-RPC errors); `cancelled`.
 * - Cancelling flags or dequeues the job as `cancel_job` does (from any replica: the cancel bus);
 *   the worker stops at its next step. A job already finished keeps its outcome.
 * - Hopper's tasks never ask for input: an update changes nothing.
 *
 * A task id is a job id of the caller's tenant and of kind ingest, batch or embed; anything else,
 * another tenant's job included, is an unknown task. No Hopper tool runs only as a task.
 */
export function createJobTasks(deps: JobTasksDeps): TaskSource {
  return {
    start: (call) => startJob(deps, call),
    requiresTask: () => false,
    async get(tenant, taskId) {
      const view = await taskJob(deps.jobs, tenant, taskId);
      return view && (await detailedTask(view, tenant, deps.jobs, deps.logger));
    },
    async cancel(tenant, taskId) {
      if ((await taskJob(deps.jobs, tenant, taskId)) === undefined) return false;
      try {
        await deps.jobs.requestCancel(tenant, taskId);
      } catch (error) {
        // Gone since the read above (its record expired): acknowledged all the same.
        if (!(isHopperError(error) && error.code === 'not_found')) throw error;
      }
      return true;
    },
    update: () => Promise.resolve(),
  };
}

/** Queues the tool's job without waiting for it, and answers with its task (or the call's refusal). */
async function startJob(deps: JobTasksDeps, call: TaskCall): Promise<TaskStart> {
  const { caller } = call;
  if (!Object.hasOwn(TASK_TOOLS, call.tool)) return undefined;
  const tool = call.tool as TaskTool;
  // The SDK answers these as it answers any call: the scope challenge, arguments the tool refuses.
  if (!caller.scopes.includes(toolScopes[tool])) return undefined;
  const input = toolContracts[tool].input.safeParse(call.arguments);
  if (!input.success) return undefined;
  // The job outlives this request: nothing here cancels it when the client hangs up.
  const detached: { jobId?: string } = {};
  const context: CallContext = {
    tenant: caller.tenant,
    signal: new AbortController().signal,
    requestId: call.requestId,
    detached,
  };
  let queued: { jobId: string; skipped?: { path: string; reason: string }[] };
  try {
    if (tool === 'embed_texts') {
      const output = await deps.handlers.embed_texts(input.data as ToolInput<'embed_texts'>, context);
      // Small enough to answer inline: the result at once, no task (the spec lets a server decide).
      if (detached.jobId === undefined) return { result: toolSuccess(output) };
      queued = { jobId: detached.jobId };
    } else {
      const handler = deps.handlers[tool] as (input: unknown, call: CallContext) => Promise<typeof queued>;
      queued = await handler({ ...(input.data as object), wait: false }, context);
    }
  } catch (error) {
    return { result: toolFailure(error, deps.logger, tool) };
  }
  // The record was written before the job was queued: this read is what any replica's tasks/get sees.
  const view = await deps.jobs.get(caller.tenant, queued.jobId);
  const task = taskFields(view);
  // A directory batch's skipped files are in the waiting call's answer only; a task tells them here.
  if (queued.skipped && queued.skipped.length > 0) {
    const listed = queued.skipped.slice(0, 5).map(({ path, reason }) => `${path} (${reason})`);
    const more = queued.skipped.length > 5 ? `, and ${queued.skipped.length - 5} more` : '';
    task.statusMessage = `${task.statusMessage ?? view.state}; skipped ${queued.skipped.length} files: ${listed.join(', ')}${more}`;
  }
  return { task };
}

/**
 * The job behind a task id: the caller's, and of a kind a task tool queues. `undefined` is an unknown
 * task, another tenant's job included (tasks/get and subscriptions/listen treat it alike).
 */
export async function taskJob(
  jobs: Pick<JobsService, 'get'>,
  tenant: string,
  taskId: string,
): Promise<JobView | undefined> {
  try {
    const view = await jobs.get(tenant, taskId);
    return toolOfKind.has(view.kind) ? view : undefined;
  } catch (error) {
    if (isHopperError(error) && error.code === 'not_found') return undefined;
    throw error;
  }
}

/** The task's own fields (the `Task` of SEP-2663) for a job's record. */
function taskFields(view: JobView): Task {
  const tool = toolOfKind.get(view.kind);
  const status =
    view.state === 'queued' || view.state === 'active'
      ? 'working'
      : view.state === 'failed'
        ? 'completed'
        : view.state;
  const message = statusMessage(view);
  return {
    taskId: view.jobId,
    status,
    ...(message ? { statusMessage: message } : {}),
    createdAt: view.createdAt,
    lastUpdatedAt: view.updatedAt,
    ttlMs: tool ? TASK_TOOLS[tool].ttlMs : TASK_TTL_MS,
    pollIntervalMs: TASK_POLL_INTERVAL_MS,
  };
}

/**
 * What the job is doing, for a person: its stage, the worker's message and the progress, e.g.
 * `embedding: embedded 640 of 3000 chunks (51%)`; a failed job's error.
 */
function statusMessage(view: JobView): string | undefined {
  if (view.state === 'queued') return 'queued';
  if (view.state === 'failed') return view.error ? `failed: ${view.error}` : 'failed';
  if (view.state === 'completed') return undefined;
  const what = [view.stage, view.message].filter(Boolean).join(': ');
  if (view.state === 'cancelled') return what || 'cancelled';
  const percent = `${Math.floor(view.progress * 100)}%`;
  return what ? `${what} (${percent})` : percent;
}

/**
 * A job's task as `tasks/get` answers it and `notifications/tasks` carries it (see listen-path.ts):
 * a finished job's result is inlined as the waiting call would have answered it; `failed` (with a
 * JSON-RPC error) is left for a result Hopper cannot build at all.
 */
export async function detailedTask(
  view: JobView,
  tenant: string,
  jobs: TaskJobs,
  logger: Logger,
): Promise<DetailedTask> {
  const task = taskFields(view);
  if (task.status !== 'completed') return task;
  const tool = toolOfKind.get(view.kind)!;
  let result: CallToolResult;
  try {
    result = toolSuccess(await TASK_TOOLS[tool].output(view, jobs, tenant));
  } catch (error) {
    if (!isHopperError(error)) {
      const failure = internalError(
        logger,
        { err: error, tool, jobId: view.jobId },
        'task result could not be built',
      );
      return { ...task, status: 'failed', error: failure };
    }
    result = toolFailure(error, logger, tool);
  }
  return { ...task, result };
}
