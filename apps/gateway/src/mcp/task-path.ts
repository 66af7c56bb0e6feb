import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@hopper/lifecycle';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { insufficientScopeChallenge } from '../auth/challenge.ts';
import type { Caller } from '../tenant-resolver.ts';
import {
  INSUFFICIENT_SCOPE,
  INVALID_PARAMS,
  MISSING_CAPABILITY,
  internalError,
  jsonRpcError,
  sendJson,
  type JsonRpcError,
} from './json-rpc.ts';

/** The Tasks extension's identifier (SEP-2663), as clients declare it and `server/discover` lists it. */
export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

const MODERN_VERSION = '2026-07-28';
const VERSION_META = 'io.modelcontextprotocol/protocolVersion';
const CAPABILITIES_META = 'io.modelcontextprotocol/clientCapabilities';
const SERVER_INFO_META = 'io.modelcontextprotocol/serverInfo';

/** What a request without the extension is missing, as `-32021` names it (SEP-2575). */
export const TASKS_REQUIRED = { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } };

/** A task's own fields (the `Task` of SEP-2663). */
export interface Task {
  taskId: string;
  status: 'working' | 'input_required' | 'completed' | 'failed' | 'cancelled';
  statusMessage?: string;
  createdAt: string;
  lastUpdatedAt: string;
  ttlMs: number;
  pollIntervalMs: number;
}

/**
 * What `tasks/get` answers (and `notifications/tasks` carries): the task, with the tool's result
 * once `completed` (a tool error included, as `isError`), a JSON-RPC error once `failed` (kept for
 * a result that could not be built at all), and the requests for input it waits on while
 * `input_required`.
 */
export interface DetailedTask extends Task {
  result?: CallToolResult;
  error?: JsonRpcError;
  inputRequests?: Record<string, unknown>;
}

/** A `tools/call` that may become a task: from a request that declared the extension. */
export interface TaskCall {
  tool: string;
  arguments: Record<string, unknown>;
  /** SEP-2322 answers of an earlier round, when the call is a retry (`params.inputResponses`). */
  inputResponses: Record<string, unknown> | undefined;
  caller: Caller;
  requestId: string;
}

/**
 * How a task call is answered: with a new task (a `CreateTaskResult`), at once without a task (a
 * tool result, or an input-required result of a multi-round call), or not here (`undefined`: the
 * SDK answers the call as any other, a refusal included).
 */
export type TaskStart = { task: Task } | { result: Record<string, unknown> } | undefined;

/**
 * Where tasks come from and live: Hopper's jobs (job-tasks.ts), or the conformance fixtures' tasks
 * (test/conformance/fixture-tasks.ts). The path in front of it speaks the protocol.
 */
export interface TaskSource {
  /** Starts a call as a task, or answers it at once, or leaves it to the SDK. */
  start(call: TaskCall): Promise<TaskStart>;
  /** A tool that runs only as a task: a call without the extension is refused with `-32021`. */
  requiresTask(tool: string): boolean;
  /** The caller's task, or `undefined`: unknown, expired, or another tenant's. */
  get(tenant: string, taskId: string): Promise<DetailedTask | undefined>;
  /** Asks the task to stop (it says `cancelled` once it has); false for an unknown task. */
  cancel(tenant: string, taskId: string): Promise<boolean>;
  /** Hands a waiting task the answers it asked for; responses to nothing pending are ignored. */
  update(tenant: string, taskId: string, inputResponses: Record<string, unknown>): Promise<void>;
}

export interface TaskPathDeps {
  source: TaskSource;
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
 * The Tasks extension (2026-07-28, SEP-2663) in front of the SDK, which (2.4) has no tasks runtime.
 * It speaks the protocol; a TaskSource says which calls are tasks and keeps them:
 *
 * - `tools/call` from a request that declares the extension in `_meta` (its per-request client
 *   capabilities): the source starts a task and the answer is a `CreateTaskResult`, sent once the
 *   task is readable (a `tasks/get` right after it resolves), or answers at once, or leaves the call
 *   to the SDK. A request without the extension never sees a task: its call goes on to the SDK, but
 *   a tool that runs only as a task is refused with `-32021`.
 * - `tasks/get`: the task, with its result inlined once completed.
 * - `tasks/cancel`: acknowledged at once (an empty result, for a finished task too); the task says
 *   `cancelled` once it has stopped.
 * - `tasks/update`: the answers a task waits on, acknowledged at once.
 *
 * A request whose standard headers (MCP-Protocol-Version, Mcp-Method, Mcp-Name) are missing or
 * disagree with its body goes on to the SDK, which refuses it. A task id the caller's tenant does not
 * own is unknown (`-32602`). `tasks/*` without the extension is `-32021` (HTTP 400, as SEP-2575 asks
 * of that error). `tasks/get` needs the read scope,
 * `tasks/cancel` and `tasks/update` the write scope. Legacy (2025-11-25) requests are left to the SDK.
 */
export function createTaskPath(deps: TaskPathDeps): TaskPath {
  const { source } = deps;
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
    const refuseWithoutExtension = (what: string) =>
      refuse(
        MISSING_CAPABILITY,
        `${what} needs the ${TASKS_EXTENSION} extension in the request's client capabilities`,
        TASKS_REQUIRED,
        400,
      );

    if (method === 'tools/call') {
      const name = params.name;
      if (typeof name !== 'string') return false;
      if (!request.tasks) {
        if (!source.requiresTask(name)) return false;
        refuseWithoutExtension(`the tool '${name}' runs only as a task: it`);
        return true;
      }
      if (!standardHeadersAgree(req.headers, method, name)) return false;
      const inputResponses = params.inputResponses;
      const started = await source.start({
        tool: name,
        arguments: isPlainObject(params.arguments) ? params.arguments : {},
        inputResponses: isPlainObject(inputResponses) ? inputResponses : undefined,
        caller,
        requestId: String(id),
      });
      if (started === undefined) return false;
      if ('task' in started) answer({ resultType: 'task', ...started.task });
      else answer({ resultType: 'complete', ...started.result });
      return true;
    }

    if (method !== 'tasks/get' && method !== 'tasks/cancel' && method !== 'tasks/update') return false;
    const taskId = params.taskId;
    if (!standardHeadersAgree(req.headers, method, typeof taskId === 'string' ? taskId : undefined)) {
      return false;
    }
    if (!request.tasks) {
      refuseWithoutExtension(method);
      return true;
    }
    if (typeof taskId !== 'string' || taskId === '') {
      refuse(INVALID_PARAMS, `${method} needs params.taskId (a string)`);
      return true;
    }
    const scope = method === 'tasks/get' ? 'read' : 'write';
    if (!caller.scopes.includes(scope)) {
      res.setHeader(
        'www-authenticate',
        insufficientScopeChallenge(scope, `${method} needs the ${scope} scope`, deps.resourceMetadataUrl),
      );
      refuse(INSUFFICIENT_SCOPE, `${method} needs the ${scope} scope`, undefined, 403);
      return true;
    }

    if (method === 'tasks/update') {
      const responses = params.inputResponses;
      if (responses !== undefined && !isPlainObject(responses)) {
        refuse(INVALID_PARAMS, 'tasks/update needs params.inputResponses (an object keyed by input request)');
        return true;
      }
      // Acknowledged whatever the id, as the spec asks: the outcome shows on the next tasks/get.
      await source.update(caller.tenant, taskId, responses ?? {});
      answer({ resultType: 'complete' });
      return true;
    }
    if (method === 'tasks/cancel') {
      if (!(await source.cancel(caller.tenant, taskId))) refuse(INVALID_PARAMS, `unknown task '${taskId}'`);
      else answer({ resultType: 'complete' });
      return true;
    }
    const task = await source.get(caller.tenant, taskId);
    if (task === undefined) refuse(INVALID_PARAMS, `unknown task '${taskId}'`);
    else answer({ resultType: 'complete', ...task });
    return true;
  }
}

/**
 * The standard request headers of a modern request (SEP-2243) agree with its body: the
 * MCP-Protocol-Version header names the revision, Mcp-Method the method and Mcp-Name the name the
 * method carries (a tool's name, a task id), whitespace around them aside. A request whose headers
 * are missing or disagree is left to the SDK, which refuses it (`-32020`, HTTP 400) before it looks
 * for a method, so the paths in front of it answer only what the SDK would have accepted.
 */
export function standardHeadersAgree(headers: IncomingHttpHeaders, method: string, name?: string): boolean {
  const header = (key: string) => {
    const value = headers[key];
    return typeof value === 'string' ? value.trim() : undefined;
  };
  return (
    header('mcp-protocol-version') === MODERN_VERSION &&
    header('mcp-method') === method &&
    header('mcp-name') === name
  );
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
