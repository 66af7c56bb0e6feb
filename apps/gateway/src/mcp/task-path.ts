import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  DEFAULT_COLLECTION,
  HopperError,
  isHopperError,
  toolContracts,
  toolScopes,
  type CallContext,
  type JobKind,
  type JobView,
  type Scope,
  type ToolHandlers,
  type ToolInput,
} from '@hopper/contracts';
import { FINISHED_JOB_TTL_SECONDS, PAYLOAD_TTL_SECONDS, jobResult, type JobsService } from '@hopper/jobs';
import type { Logger } from '@hopper/lifecycle';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { insufficientScopeChallenge } from '../auth/challenge.ts';
import type { Caller } from '../tenant-resolver.ts';
import { batchOutput } from '../tools/batch-tools.ts';
import { embedJobOutcome, ingestOutput } from '../tools/job-tools.ts';
import {
  INSUFFICIENT_SCOPE,
  INVALID_PARAMS,
  INVALID_REQUEST,
  MISSING_CAPABILITY,
  internalError,
  jsonRpcError,
  sendJson,
} from './json-rpc.ts';
import { toolFailure, toolSuccess } from './tool-result.ts';

/** The Tasks extension's identifier (SEP-2663), as clients declare it and `server/discover` lists it. */
export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

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

const MODERN_VERSION = '2026-07-28';
const VERSION_META = 'io.modelcontextprotocol/protocolVersion';
const CAPABILITIES_META = 'io.modelcontextprotocol/clientCapabilities';
const SERVER_INFO_META = 'io.modelcontextprotocol/serverInfo';

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

export interface TaskPathDeps {
  /** The tool chain every call goes through (timing, rate limit, handler). */
  handlers: Pick<ToolHandlers, TaskTool>;
  jobs: TaskJobs & Pick<JobsService, 'requestCancel'>;
  logger: Logger;
  /** What a modern result names in its `_meta` (the SDK's `serverInfo`). */
  serverInfo: { name: string; version: string };
  /** Named in the 403 challenge of a caller without the scope a task method needs. */
  resourceMetadataUrl?: string;
}

/** Answers a task request, or returns false for the caller to send the request on (to the SDK). */
export type TaskPath = (
  req: IncomingMessage,
  res: ServerResponse,
  body: unknown,
  caller: Caller,
) => Promise<boolean>;

export interface ModernRequest {
  id: string | number;
  method: string;
  params: Record<string, unknown>;
  /** The request declared the Tasks extension in its per-request client capabilities. */
  tasks: boolean;
}

/**
 * Hopper's jobs as MCP tasks (the 2026-07-28 Tasks extension, SEP-2663). The SDK (2.4) has no tasks
 * runtime, so this module answers the task surface itself, in front of it, as the fast path does:
 *
 * - `tools/call` of `ingest_document`, `ingest_documents` or a large `embed_texts` (one that goes
 *   onto the embed queue; a small one answers inline, as before) from a request that declares the
 *   extension in `_meta` (its per-request client capabilities): the call goes through the same
 *   handler chain as any call (rate limit, timing), without waiting for the job, and the answer is a
 *   `CreateTaskResult` whose `taskId` is the job id, sent once the job's record is written (a
 *   `tasks/get` on any replica resolves from then on). A call refused before a job exists (a bad
 *   document, the tenant's job limit) answers as it always does: a tool result with `isError`.
 * - `tasks/get`: the job's record as a task (`working` while queued or running, with the stage and
 *   progress as `statusMessage`; `completed` with the waiting call's result inlined, `isError` when
 *   the job failed, since the spec keeps `failed` for JSON-RPC errors; `cancelled`).
 * - `tasks/cancel`: flags or dequeues the job as `cancel_job` does (from any replica: the cancel
 *   bus) and acknowledges at once; the worker stops at its next step.
 * - `tasks/update`: acknowledged; Hopper's tasks never ask for input.
 *
 * A task id is a job id of the caller's tenant and kind ingest, batch or embed; anything else, another
 * tenant's job included, is an unknown task (`-32602`). Requests without the extension never see a
 * task: their `tools/call` goes on to the SDK unchanged, and their `tasks/*` are refused with
 * `-32021`. Legacy (2025-11-25) requests are left to the SDK.
 */
export function createTaskPath(deps: TaskPathDeps): TaskPath {
  const meta = { [SERVER_INFO_META]: deps.serverInfo };

  return async (req, res, body, caller) => {
    const request = modernRequest(body);
    if (request === undefined) return false;
    try {
      return await serve(req, res, request, caller);
    } catch (error) {
      // Redis unreachable, most likely: a JSON-RPC error the client can retry.
      const failure = internalError(
        deps.logger,
        { err: error, method: request.method },
        'task request failed',
      );
      sendJson(res, 200, { jsonrpc: '2.0', id: request.id, error: failure });
      return true;
    }
  };

  async function serve(
    req: IncomingMessage,
    res: ServerResponse,
    request: ModernRequest,
    caller: Caller,
  ): Promise<boolean> {
    const { id, method, params } = request;
    const answer = (result: Record<string, unknown>) =>
      sendJson(res, 200, { jsonrpc: '2.0', id, result: { ...result, _meta: meta } });
    const refuse = (code: number, message: string, data?: unknown, status = 200) =>
      sendJson(res, status, jsonRpcError(code, message, id, data));

    if (method === 'tools/call') {
      const name = params.name;
      if (!request.tasks || typeof name !== 'string' || !Object.hasOwn(TASK_TOOLS, name)) return false;
      const tool = name as TaskTool;
      // The SDK answers these as it answers any call: the scope challenge, a mismatched header,
      // arguments the tool refuses.
      if (!caller.scopes.includes(toolScopes[tool])) return false;
      const header = req.headers['mcp-name'];
      if (header !== undefined && header !== tool) return false;
      const input = toolContracts[tool].input.safeParse(params.arguments ?? {});
      if (!input.success) return false;
      const created = await createTask(deps, tool, input.data, caller, String(id));
      answer(created);
      return true;
    }

    if (method !== 'tasks/get' && method !== 'tasks/cancel' && method !== 'tasks/update') return false;
    if (!request.tasks) {
      refuse(
        MISSING_CAPABILITY,
        `${method} needs the ${TASKS_EXTENSION} extension in the request's client capabilities`,
        {
          requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } },
        },
      );
      return true;
    }
    const taskId = params.taskId;
    if (typeof taskId !== 'string' || taskId === '') {
      refuse(INVALID_PARAMS, `${method} needs params.taskId (a string)`);
      return true;
    }
    const header = req.headers['mcp-name'];
    if (header !== undefined && header !== taskId) {
      refuse(
        INVALID_REQUEST,
        `the Mcp-Name header ('${String(header)}') is not params.taskId ('${taskId}')`,
        undefined,
        400,
      );
      return true;
    }
    // Nothing to update: Hopper's tasks never ask for input. The spec asks for an ack whatever the id.
    if (method === 'tasks/update') {
      answer({ resultType: 'complete' });
      return true;
    }
    const scope: Scope = method === 'tasks/get' ? 'read' : 'write';
    if (!caller.scopes.includes(scope)) {
      res.setHeader(
        'www-authenticate',
        insufficientScopeChallenge(scope, `${method} needs the ${scope} scope`, deps.resourceMetadataUrl),
      );
      refuse(INSUFFICIENT_SCOPE, `${method} needs the ${scope} scope`, undefined, 403);
      return true;
    }

    const view = await taskJob(deps.jobs, caller.tenant, taskId);
    if (view === undefined) {
      refuse(INVALID_PARAMS, `unknown task '${taskId}'`);
      return true;
    }
    if (method === 'tasks/cancel') {
      // Flags the job (or takes it off the queue) and broadcasts the cancel to every worker, as
      // cancel_job does, without waiting for the worker to stop: the task says `cancelled` once it
      // has. A job already finished keeps its outcome (the spec allows any terminal status after a
      // cancel); a job gone since the read above is acknowledged all the same.
      try {
        await deps.jobs.requestCancel(caller.tenant, taskId);
      } catch (error) {
        if (!(isHopperError(error) && error.code === 'not_found')) throw error;
      }
      answer({ resultType: 'complete' });
      return true;
    }
    answer({ resultType: 'complete', ...(await detailedTask(view, caller.tenant, deps.jobs, deps.logger)) });
    return true;
  }
}

/** Queues the tool's job without waiting for it, and answers with its task (or the call's refusal). */
async function createTask(
  deps: TaskPathDeps,
  tool: TaskTool,
  input: unknown,
  caller: Caller,
  requestId: string,
): Promise<Record<string, unknown>> {
  // The job outlives this request: nothing here cancels it when the client hangs up.
  const detached: { jobId?: string } = {};
  const call: CallContext = {
    tenant: caller.tenant,
    signal: new AbortController().signal,
    requestId,
    detached,
  };
  let queued: { jobId: string; skipped?: { path: string; reason: string }[] };
  try {
    if (tool === 'embed_texts') {
      const output = await deps.handlers.embed_texts(input as ToolInput<'embed_texts'>, call);
      // Small enough to answer inline: the result at once, no task (the spec lets a server decide).
      if (detached.jobId === undefined) return { resultType: 'complete', ...toolSuccess(output) };
      queued = { jobId: detached.jobId };
    } else {
      const handler = deps.handlers[tool] as (input: unknown, call: CallContext) => Promise<typeof queued>;
      queued = await handler({ ...(input as object), wait: false }, call);
    }
  } catch (error) {
    return { resultType: 'complete', ...toolFailure(error, deps.logger, tool) };
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
  return { resultType: 'task', ...task };
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

interface TaskFields {
  taskId: string;
  status: 'working' | 'completed' | 'failed' | 'cancelled';
  statusMessage?: string;
  createdAt: string;
  lastUpdatedAt: string;
  ttlMs: number;
  pollIntervalMs: number;
}

/** The task's own fields (the `Task` of SEP-2663) for a job's record. */
function taskFields(view: JobView): TaskFields {
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
 * A `DetailedTask`: a finished job's result is inlined as the waiting call would have answered it;
 * `failed` (with a JSON-RPC error) is left for a result Hopper cannot build at all. What `tasks/get`
 * answers and what `notifications/tasks` carries (see listen-path.ts).
 */
export async function detailedTask(
  view: JobView,
  tenant: string,
  jobs: TaskJobs,
  logger: Logger,
): Promise<Record<string, unknown>> {
  const task = taskFields(view);
  if (task.status !== 'completed') return { ...task };
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

/** A lone modern (2026-07-28) JSON-RPC request, with whether it declared the Tasks extension. */
export function modernRequest(body: unknown): ModernRequest | undefined {
  if (!isPlainObject(body) || body.jsonrpc !== '2.0' || typeof body.method !== 'string') return undefined;
  const { id } = body;
  if (!(typeof id === 'string' || (typeof id === 'number' && Number.isSafeInteger(id)))) return undefined;
  const params = body.params;
  if (!isPlainObject(params) || !isPlainObject(params._meta)) return undefined;
  const meta = params._meta;
  if (meta[VERSION_META] !== MODERN_VERSION) return undefined;
  const capabilities = meta[CAPABILITIES_META];
  const extensions = isPlainObject(capabilities) ? capabilities.extensions : undefined;
  const tasks = isPlainObject(extensions) && isPlainObject(extensions[TASKS_EXTENSION]);
  return { id, method: body.method, params, tasks };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
