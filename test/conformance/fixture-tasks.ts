import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  acceptedContent,
  inputRequired,
  type CallToolResult,
  type InputRequest,
  type InputResponses,
  type McpServer,
  type ServerContext,
} from '@modelcontextprotocol/server';
import * as z from 'zod';
import { INTERNAL_ERROR, type JsonRpcError } from '../../apps/gateway/src/mcp/json-rpc.ts';
import type { DetailedTask, TaskCall, TaskSource, TaskStart } from '../../apps/gateway/src/mcp/task-path.ts';

/**
 * The task fixtures of the conformance suite's tasks scenarios (0.2.0-alpha.12, `tasks-*`), served
 * by the gateway's own task path (apps/gateway/src/mcp/task-path.ts) from memory: the fixture server
 * is one process, and its tasks need no worker. The contracts are the scenarios' descriptions in
 * node_modules/conformance-2026/dist/index.js:
 *
 * - `greet`: never a task (an SDK tool, registered by `registerTaskFixtureTools`).
 * - `slow_compute {seconds, label}`: sleeps, then answers; `cancelled` when cancelled meanwhile.
 * - `failing_job`: runs only as a task; after a second, a tool error (`completed`, `isError`).
 * - `protocol_error_job`: crashes, so the task is `failed` with a JSON-RPC error.
 * - `confirm_delete {filename}`: asks the client to confirm (`input_required`), then answers.
 * - `multi_input`: asks two questions at once; answered one at a time, it waits for both.
 * - `test_tool_with_task`: runs only as a task; asks for the user's name first in an input-required
 *   result (a multi-round call, SEP-2322), then starts a task that greets them.
 */

/** How long a finished fixture task stays readable: the `ttlMs` each task states. */
const TTL_MS = 10 * 60_000;
const POLL_INTERVAL_MS = 200;

type Outcome = { result: CallToolResult } | { error: JsonRpcError };

/** What a running fixture can do besides computing: wait (cancellably) and ask the client. */
interface TaskIo {
  sleep(ms: number): Promise<void>;
  /** Parks the task in `input_required` until every request is answered; the answers by name. */
  ask(requests: Record<string, InputRequest>): Promise<InputResponses>;
}

interface Fixture {
  /** Runs only as a task: a call without the extension is refused with -32021. */
  required: boolean;
  /** Input the call needs before any task is made: an input-required result asks for it. */
  before?: (call: TaskCall) => CallToolResult | Record<string, unknown> | undefined;
  run(call: TaskCall, io: TaskIo): Promise<Outcome>;
}

const text = (value: string): CallToolResult => ({ content: [{ type: 'text', text: value }] });
const confirmRequest = (message: string) =>
  inputRequired.elicit({ message, requestedSchema: z.object({ confirm: z.boolean() }) });
const nameRequest = (message: string) =>
  inputRequired.elicit({ message, requestedSchema: z.object({ name: z.string() }) });

const FIXTURES: Record<string, Fixture> = {
  slow_compute: {
    required: false,
    async run(call, io) {
      const seconds = secondsOf(call.arguments);
      await io.sleep(seconds * 1000);
      return { result: text(computed(call.arguments)) };
    },
  },
  failing_job: {
    required: true,
    async run(_call, io) {
      await io.sleep(1000);
      return { result: { ...text('failing_job failed, as it always does'), isError: true } };
    },
  },
  protocol_error_job: {
    required: false,
    async run(_call, io) {
      await io.sleep(100);
      return { error: { code: INTERNAL_ERROR, message: 'protocol_error_job crashed, as it always does' } };
    },
  },
  confirm_delete: {
    required: false,
    async run(call, io) {
      const filename = typeof call.arguments.filename === 'string' ? call.arguments.filename : 'the file';
      const answers = await io.ask({ confirm: confirmRequest(`Delete ${filename}?`) });
      return { result: text(deleted(filename, acceptedContent(answers, 'confirm'))) };
    },
  },
  multi_input: {
    required: false,
    async run(_call, io) {
      const answers = await io.ask({
        name: nameRequest('What is your name?'),
        confirm: confirmRequest('Go ahead?'),
      });
      return { result: text(`Both answered: ${JSON.stringify(answers)}`) };
    },
  },
  test_tool_with_task: {
    required: true,
    before: (call) =>
      nameOf(call.inputResponses) === undefined
        ? inputRequired({ inputRequests: { user_name: nameRequest('What is your name?') } })
        : undefined,
    async run(call, io) {
      await io.sleep(200);
      return { result: text(`Hello, ${nameOf(call.inputResponses)}!`) };
    },
  },
};

interface Entry {
  tenant: string;
  task: DetailedTask;
  expiresAt: number;
  stop: AbortController;
  /** Requests not answered yet, by the opaque key the client sees, with the name the fixture asked by. */
  pending: Map<string, { name: string; request: InputRequest }>;
  answers: InputResponses;
  /** Resumes an `ask` once nothing is pending. */
  resume?: () => void;
}

/** The fixtures' tasks, kept in this process's memory until their TTL. */
export function createFixtureTasks(): TaskSource {
  const tasks = new Map<string, Entry>();

  const touch = (entry: Entry, changes: Partial<DetailedTask>) => {
    entry.task = { ...entry.task, ...changes, lastUpdatedAt: new Date().toISOString() };
  };

  function io(entry: Entry): TaskIo {
    return {
      sleep: (ms) => sleep(ms, undefined, { signal: entry.stop.signal }),
      ask(requests) {
        for (const [name, request] of Object.entries(requests)) {
          entry.pending.set(`${name}-${randomUUID().slice(0, 8)}`, { name, request });
        }
        touch(entry, { status: 'input_required', statusMessage: 'waiting for the client to answer' });
        return new Promise((resolve, reject) => {
          entry.stop.signal.addEventListener('abort', () => reject(new Error('cancelled')), { once: true });
          entry.resume = () => {
            touch(entry, { status: 'working', statusMessage: 'answered; working' });
            resolve(entry.answers);
          };
        });
      },
    };
  }

  async function run(entry: Entry, fixture: Fixture, call: TaskCall): Promise<void> {
    let end: Partial<DetailedTask>;
    try {
      const outcome = await fixture.run(call, io(entry));
      end =
        'result' in outcome
          ? { status: 'completed', result: outcome.result }
          : { status: 'failed', error: outcome.error };
    } catch (error) {
      end = entry.stop.signal.aborted
        ? { status: 'cancelled' }
        : { status: 'failed', error: { code: INTERNAL_ERROR, message: String(error) } };
    }
    entry.pending.clear();
    touch(entry, {
      ...end,
      statusMessage: end.status === 'cancelled' ? 'cancelled by the client' : undefined,
    });
  }

  const ownTask = (tenant: string, taskId: string) => {
    const entry = tasks.get(taskId);
    return entry && entry.tenant === tenant && entry.expiresAt > Date.now() ? entry : undefined;
  };

  return {
    requiresTask: (tool) => FIXTURES[tool]?.required ?? false,

    start(call): Promise<TaskStart> {
      const fixture = Object.hasOwn(FIXTURES, call.tool) ? FIXTURES[call.tool] : undefined;
      if (fixture === undefined) return Promise.resolve(undefined);
      const asked = fixture.before?.(call);
      if (asked !== undefined) return Promise.resolve({ result: asked });
      const now = Date.now();
      for (const [id, entry] of tasks) if (entry.expiresAt <= now) tasks.delete(id);
      const at = new Date(now).toISOString();
      const entry: Entry = {
        tenant: call.caller.tenant,
        task: {
          taskId: `task_${randomUUID()}`,
          status: 'working',
          statusMessage: `running ${call.tool}`,
          createdAt: at,
          lastUpdatedAt: at,
          ttlMs: TTL_MS,
          pollIntervalMs: POLL_INTERVAL_MS,
        },
        expiresAt: now + TTL_MS,
        stop: new AbortController(),
        pending: new Map(),
        answers: {},
      };
      // Stored before the answer: a tasks/get right after it finds the task.
      tasks.set(entry.task.taskId, entry);
      void run(entry, fixture, call);
      const { result: _, error: __, inputRequests: ___, ...created } = entry.task;
      return Promise.resolve({ task: created });
    },

    get(tenant, taskId) {
      const entry = ownTask(tenant, taskId);
      if (entry === undefined) return Promise.resolve(undefined);
      const waiting = entry.task.status === 'input_required';
      const inputRequests = Object.fromEntries(
        [...entry.pending].map(([key, { request }]) => [key, request]),
      );
      return Promise.resolve(waiting ? { ...entry.task, inputRequests } : entry.task);
    },

    cancel(tenant, taskId) {
      const entry = ownTask(tenant, taskId);
      if (entry === undefined) return Promise.resolve(false);
      // A finished task keeps its outcome; a running one stops at its next wait.
      if (entry.task.status === 'working' || entry.task.status === 'input_required') {
        entry.stop.abort(new Error('cancelled by the client'));
      }
      return Promise.resolve(true);
    },

    update(tenant, taskId, inputResponses) {
      const entry = ownTask(tenant, taskId);
      if (entry === undefined || entry.task.status !== 'input_required') return Promise.resolve();
      for (const [key, response] of Object.entries(inputResponses)) {
        const asked = entry.pending.get(key);
        if (asked === undefined) continue;
        entry.pending.delete(key);
        entry.answers[asked.name] = response as InputResponses[string];
      }
      if (entry.pending.size === 0) entry.resume?.();
      return Promise.resolve();
    },
  };
}

/**
 * The same fixtures as tools of the per-request SDK server: `tools/list` names them, and a call
 * that is not a task (no extension declared, or a 2025-11-25 client) runs them synchronously:
 * `slow_compute` sleeps and answers; `confirm_delete` and `multi_input` ask through input-required
 * results (2026-07-28 only); the task-only tools answer with a tool error that says so (the task
 * path refuses a 2026-07-28 call of theirs with -32021 before it gets here).
 */
export function registerTaskFixtureTools(server: McpServer, modern: boolean): void {
  server.registerTool(
    'greet',
    { description: 'Greets by name; never a task', inputSchema: z.object({ name: z.string() }) },
    ({ name }) => text(`Hello, ${name}!`),
  );
  server.registerTool(
    'slow_compute',
    {
      description: 'Sleeps `seconds`, then answers; a task for clients with the tasks extension',
      inputSchema: z.object({ seconds: z.number().min(0).max(600), label: z.string().optional() }),
    },
    async (args) => {
      await sleep(secondsOf(args) * 1000);
      return text(computed(args));
    },
  );
  const taskOnly = (name: string, description: string) =>
    server.registerTool(name, { description, inputSchema: z.object({}).passthrough() }, () => ({
      ...text(`${name} runs only as a task: declare the io.modelcontextprotocol/tasks extension`),
      isError: true,
    }));
  taskOnly('failing_job', 'Fails after a second (a tool error); runs only as a task');
  taskOnly('test_tool_with_task', 'Asks for a name, then greets it in a task; runs only as a task');
  server.registerTool(
    'protocol_error_job',
    { description: 'Crashes (a protocol error)', inputSchema: z.object({}) },
    () => {
      throw new Error('protocol_error_job crashed, as it always does');
    },
  );
  if (!modern) return;
  server.registerTool(
    'confirm_delete',
    {
      description: 'Asks the client to confirm, then deletes (nothing)',
      inputSchema: z.object({ filename: z.string() }),
    },
    ({ filename }, ctx: ServerContext) => {
      const answer = acceptedContent(ctx.mcpReq.inputResponses, 'confirm');
      if (answer === undefined) {
        return inputRequired({ inputRequests: { confirm: confirmRequest(`Delete ${filename}?`) } });
      }
      return text(deleted(filename, answer));
    },
  );
  server.registerTool(
    'multi_input',
    { description: 'Asks two questions at once', inputSchema: z.object({}) },
    (_args, ctx: ServerContext) => {
      const responses = ctx.mcpReq.inputResponses ?? {};
      if (!('name' in responses && 'confirm' in responses)) {
        return inputRequired({
          inputRequests: { name: nameRequest('What is your name?'), confirm: confirmRequest('Go ahead?') },
        });
      }
      return text(`Both answered: ${JSON.stringify(responses)}`);
    },
  );
}

function secondsOf(args: Record<string, unknown>): number {
  const seconds = Number(args.seconds ?? 1);
  return Number.isFinite(seconds) ? Math.min(Math.max(seconds, 0), 600) : 1;
}

function computed(args: Record<string, unknown>): string {
  const label = typeof args.label === 'string' ? args.label : 'slow_compute';
  return `Computed ${label} after ${secondsOf(args)} s`;
}

function deleted(filename: string, answer: Record<string, unknown> | undefined): string {
  return answer?.confirm === true ? `Deleted ${filename}` : `Kept ${filename}`;
}

function nameOf(responses: Record<string, unknown> | undefined): string | undefined {
  const name = acceptedContent(responses as InputResponses | undefined, 'user_name')?.name;
  return typeof name === 'string' ? name : undefined;
}
