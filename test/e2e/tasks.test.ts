import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { MODERN_PROTOCOL_VERSION, connectModern, getJob, structured, toolError } from '../support/clients.ts';
import { EmbeddingsDouble } from '../support/embeddings-double.ts';
import { paragraphsAbout } from '../support/fault-documents.ts';
import { TestStack } from '../support/stack.ts';

/**
 * Jobs as MCP tasks (spec 2026-07-28, Tasks extension, SEP-2663), through real HTTP on two gateway
 * replicas, one worker and real Redis. The SDK's client (2.4) refuses `tasks/*` toward a 2026-07-28
 * server and cannot read a `CreateTaskResult`, so the task side speaks raw JSON-RPC with the headers
 * and `_meta` envelope the spec prescribes; the side without the extension is the SDK's own client.
 */

const TASKS = 'io.modelcontextprotocol/tasks';
const ACME = 'acme-key-0123456789abcdef';
const GLOBEX = 'globex-key-0123456789abcdef';
const WEEK_MS = 7 * 24 * 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

let embeddings: EmbeddingsDouble;
let stack: TestStack;
let waiting: Client;

beforeAll(async () => {
  embeddings = await EmbeddingsDouble.start();
  stack = await TestStack.start({
    redisUrl: inject('redisUrl'),
    gateways: 2,
    workers: 1,
    env: {
      ...embeddings.env,
      HOPPER_API_KEYS: `acme:${ACME},globex:${GLOBEX}`,
      HOPPER_WORKER_CONCURRENCY: '1',
      HOPPER_WORKER_INGEST_CONCURRENCY: '1',
    },
  });
  // A client without the extension (the SDK's client declares none): its calls wait, as before.
  waiting = await connectModern(stack.gateways[0]!.url, {
    requestInit: { headers: { authorization: `Bearer ${ACME}` } },
  });
});

afterAll(async () => {
  await waiting?.close();
  await stack?.stop();
  await embeddings?.stop();
});

interface RpcAnswer {
  status: number;
  result?: Record<string, unknown> & Task;
  error?: { code: number; message: string; data?: Record<string, unknown> };
}

interface Task {
  resultType?: string;
  taskId: string;
  status: string;
  statusMessage?: string;
  createdAt: string;
  lastUpdatedAt: string;
  ttlMs: number;
  pollIntervalMs?: number;
  result?: {
    content: { type: string; text: string }[];
    structuredContent?: Record<string, unknown>;
    isError?: boolean;
  };
  error?: { code: number; message: string };
}

/** One JSON-RPC request as a 2026-07-28 client sends it, to gateway `replica`, as `key`'s tenant. */
async function rpc(
  method: string,
  params: Record<string, unknown>,
  { key = ACME, replica = 0, tasks = true }: { key?: string; replica?: number; tasks?: boolean } = {},
): Promise<RpcAnswer> {
  const name = method === 'tools/call' ? params.name : params.taskId;
  const response = await fetch(stack.gateways[replica]!.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${key}`,
      'mcp-protocol-version': MODERN_PROTOCOL_VERSION,
      'mcp-method': method,
      ...(typeof name === 'string' ? { 'mcp-name': name } : {}),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method,
      params: {
        ...params,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': MODERN_PROTOCOL_VERSION,
          'io.modelcontextprotocol/clientInfo': { name: 'hopper-test-tasks', version: '1.0.0' },
          'io.modelcontextprotocol/clientCapabilities': tasks ? { extensions: { [TASKS]: {} } } : {},
        },
      },
    }),
  });
  const body = (await response.json()) as Omit<RpcAnswer, 'status'>;
  return { status: response.status, ...body };
}

async function createTask(tool: string, args: Record<string, unknown>, key = ACME): Promise<Task> {
  const answer = await rpc('tools/call', { name: tool, arguments: args }, { key });
  expect(answer.error).toBeUndefined();
  expect(answer.result?.resultType).toBe('task');
  return answer.result!;
}

async function getTask(taskId: string, options: { key?: string; replica?: number } = {}): Promise<Task> {
  const answer = await rpc('tasks/get', { taskId }, options);
  if (answer.error) throw new Error(`tasks/get failed: ${JSON.stringify(answer.error)}`);
  expect(answer.result?.resultType).toBe('complete');
  return answer.result!;
}

/** Polls tasks/get (on the other replica) until the predicate holds; the test's timeout bounds it. */
async function pollTask(taskId: string, predicate: (task: Task) => boolean): Promise<Task> {
  for (;;) {
    const task = await getTask(taskId, { replica: 1 });
    if (predicate(task)) return task;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const finished = (task: Task) => task.status !== 'working';

describe('jobs as MCP tasks', () => {
  it('server/discover declares the tasks extension', async () => {
    const answer = await rpc('server/discover', {}, { tasks: false });
    const capabilities = answer.result?.capabilities as { extensions?: Record<string, unknown> };
    expect(capabilities.extensions?.[TASKS]).toEqual({});
  });

  it('an ingest answers with a task at once; tasks/get on another replica shows its progress, then the result a waiting call returns', async () => {
    embeddings.delayMs = 100;
    const args = { content: paragraphsAbout('heron', 300), documentId: 'heron', collection: 'tasks' };
    const created = await createTask('ingest_document', args);
    expect(created).toMatchObject({ status: 'working', ttlMs: WEEK_MS, pollIntervalMs: 1000 });
    expect(created.taskId).toMatch(/\S/);
    expect(Date.parse(created.createdAt)).not.toBeNaN();
    expect(Date.parse(created.lastUpdatedAt)).not.toBeNaN();
    expect(created).not.toHaveProperty('result');

    // Durable on return: the other replica knows the task already.
    const first = await getTask(created.taskId, { replica: 1 });
    expect(first.taskId).toBe(created.taskId);

    const embedding = await pollTask(created.taskId, (task) => /^embedding: /.test(task.statusMessage ?? ''));
    expect(embedding.status).toBe('working');
    expect(embedding.statusMessage).toMatch(/^embedding: embedded \d+ of \d+ chunks \(\d+%\)$/);

    embeddings.delayMs = 0;
    const done = await pollTask(created.taskId, finished);
    expect(done.status).toBe('completed');
    expect(done.result?.isError).toBeUndefined();
    expect(done.result?.structuredContent).toMatchObject({
      jobId: created.taskId,
      documentId: 'heron',
      state: 'completed',
      version: 1,
    });

    // The same call from a client without the extension waits and answers with the same result.
    const result = await waiting.callTool({ name: 'ingest_document', arguments: args });
    expect(result).not.toHaveProperty('taskId');
    expect(structured(result)).toEqual(done.result?.structuredContent);
    expect(result.content).toEqual(done.result?.content);
  });

  it('a job that fails is a completed task whose result is the waiting call’s error', async () => {
    // A PDF cut short: the gateway takes it (it starts as a PDF), the worker's parser refuses it.
    const pdf = await readFile(new URL('../fixtures/documents/manual.pdf', import.meta.url));
    const args = {
      contentBase64: pdf.subarray(0, 400).toString('base64'),
      documentId: 'broken',
      collection: 'tasks',
    };
    const created = await createTask('ingest_document', args);
    const done = await pollTask(created.taskId, finished);
    expect(done.status).toBe('completed');
    expect(done.result?.isError).toBe(true);
    expect(done.result?.content[0]?.text).toContain(`ingest of 'broken' failed`);

    const waited = toolError(await waiting.callTool({ name: 'ingest_document', arguments: args }));
    // The waiting call ran its own job (a failed ingest is not reused): the same message, its own id.
    expect(waited.replace(/\(job \S+\)/, '')).toBe(done.result?.content[0]?.text.replace(/\(job \S+\)/, ''));
  });

  it('tasks/cancel on another replica acknowledges at once and the running job ends cancelled', async () => {
    embeddings.delayMs = 150;
    const created = await createTask('ingest_document', {
      content: paragraphsAbout('otter', 400),
      documentId: 'otter',
      collection: 'tasks',
    });
    await pollTask(created.taskId, (task) => /^embedding: /.test(task.statusMessage ?? ''));

    const ack = await rpc('tasks/cancel', { taskId: created.taskId }, { replica: 1 });
    expect(ack.error).toBeUndefined();
    expect(ack.result?.resultType).toBe('complete');
    expect(ack.result).not.toHaveProperty('taskId');

    const done = await pollTask(created.taskId, finished);
    embeddings.delayMs = 0;
    expect(done.status).toBe('cancelled');
    expect(done).not.toHaveProperty('result');
    expect((await getJob(waiting, created.taskId)).state).toBe('cancelled');

    // Cancelling a finished task is acknowledged the same way, and changes nothing.
    const again = await rpc('tasks/cancel', { taskId: created.taskId });
    expect(again.result?.resultType).toBe('complete');
    expect((await getTask(created.taskId)).status).toBe('cancelled');
  });

  it('another tenant’s task id is an unknown task, for tasks/get and tasks/cancel alike', async () => {
    const created = await createTask('ingest_document', {
      content: paragraphsAbout('badger', 3),
      documentId: 'badger',
      collection: 'tasks',
    });
    const unknown = 'ing_0000000000000000';
    for (const method of ['tasks/get', 'tasks/cancel']) {
      const foreign = await rpc(method, { taskId: created.taskId }, { key: GLOBEX });
      const missing = await rpc(method, { taskId: unknown }, { key: GLOBEX });
      expect(foreign.error?.code).toBe(-32602);
      expect(foreign.error?.message.replace(created.taskId, 'ID')).toBe(
        missing.error?.message.replace(unknown, 'ID'),
      );
    }
    // Globex's cancel did not touch acme's job.
    expect((await pollTask(created.taskId, finished)).status).toBe('completed');
  });

  it('a batch ingest answers with a task whose result lists every document', async () => {
    const created = await createTask('ingest_documents', {
      collection: 'tasks-batch',
      documents: [
        { documentId: 'a', content: paragraphsAbout('alder', 2) },
        { documentId: 'b', content: paragraphsAbout('birch', 2) },
      ],
    });
    const done = await pollTask(created.taskId, finished);
    expect(done.status).toBe('completed');
    expect(done.result?.structuredContent).toMatchObject({
      jobId: created.taskId,
      state: 'completed',
      collection: 'tasks-batch',
      total: 2,
      stored: 2,
      failed: 0,
    });
  });

  it('a large embed_texts (queued) answers with a task whose result is the waiting call’s vectors, as often as it is read; a small one answers inline', async () => {
    const texts = Array.from({ length: 40 }, (_, i) => `lantern log entry ${i}`);
    const created = await createTask('embed_texts', { texts });
    expect(created.taskId).toMatch(/^emb_/);
    expect(created.ttlMs).toBe(DAY_MS);
    const done = await pollTask(created.taskId, finished);
    expect(done.status).toBe('completed');
    expect(done.ttlMs).toBe(DAY_MS);
    const output = done.result?.structuredContent as {
      model: string;
      dimensions: number;
      embeddings: number[][];
    };
    expect(output.embeddings).toHaveLength(40);
    expect(output.dimensions).toBe(output.embeddings[0]!.length);
    // The same vectors a client without the extension waits for; and a second read still has them.
    const waited = structured<typeof output>(
      await waiting.callTool({ name: 'embed_texts', arguments: { texts } }),
    );
    expect(output).toEqual(waited);
    expect((await getTask(created.taskId)).result?.structuredContent).toEqual(output);

    const small = await rpc('tools/call', { name: 'embed_texts', arguments: { texts: texts.slice(0, 2) } });
    expect(small.result?.resultType).toBe('complete');
    expect(small.result).not.toHaveProperty('taskId');
    expect((small.result?.structuredContent as typeof output).embeddings).toEqual(
      output.embeddings.slice(0, 2),
    );
  });

  it('a client without the extension never gets a task, and tasks/* ask for the extension', async () => {
    const answer = await rpc(
      'tools/call',
      {
        name: 'ingest_document',
        arguments: { content: paragraphsAbout('vole', 2), documentId: 'vole', collection: 'tasks' },
      },
      { tasks: false },
    );
    expect(answer.result?.resultType).toBe('complete');
    expect(answer.result).not.toHaveProperty('taskId');
    expect(answer.result?.structuredContent).toMatchObject({ documentId: 'vole', state: 'completed' });

    for (const method of ['tasks/get', 'tasks/cancel', 'tasks/update']) {
      const refused = await rpc(
        method,
        { taskId: 'ing_0000000000000000', inputResponses: {} },
        { tasks: false },
      );
      expect(refused.error?.code).toBe(-32021);
      // SEP-2575: a missing required client capability is an HTTP 400.
      expect(refused.status).toBe(400);
      expect(refused.error?.data).toEqual({ requiredCapabilities: { extensions: { [TASKS]: {} } } });
    }
  });

  it('tasks/list and tasks/result, removed by the extension, are unknown methods', async () => {
    for (const method of ['tasks/list', 'tasks/result']) {
      const answer = await rpc(method, method === 'tasks/result' ? { taskId: 'ing_0000000000000000' } : {});
      expect(answer.error?.code).toBe(-32601);
    }
  });

  it('a tasks/get whose routing headers disagree with its body is refused as a header mismatch', async () => {
    const { taskId } = await createTask('ingest_document', {
      content: paragraphsAbout('heron', 2),
      documentId: 'heron',
      collection: 'tasks',
    });
    const headers = (overrides: Record<string, string | undefined>) => ({
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${ACME}`,
      'mcp-protocol-version': MODERN_PROTOCOL_VERSION,
      'mcp-method': 'tasks/get',
      'mcp-name': taskId,
      ...overrides,
    });
    const get = async (overrides: Record<string, string | undefined>) => {
      const sent = Object.fromEntries(
        Object.entries(headers(overrides)).filter(([, value]) => value !== undefined),
      ) as Record<string, string>;
      const response = await fetch(stack.gateways[0]!.url, {
        method: 'POST',
        headers: sent,
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 7,
          method: 'tasks/get',
          params: {
            taskId,
            _meta: {
              'io.modelcontextprotocol/protocolVersion': MODERN_PROTOCOL_VERSION,
              'io.modelcontextprotocol/clientInfo': { name: 'hopper-test-tasks', version: '1.0.0' },
              'io.modelcontextprotocol/clientCapabilities': { extensions: { [TASKS]: {} } },
            },
          },
        }),
      });
      return { status: response.status, ...((await response.json()) as Omit<RpcAnswer, 'status'>) };
    };

    // Surrounding whitespace is not part of a header's value (RFC 9110).
    expect((await get({ 'mcp-name': `  ${taskId} ` })).result?.taskId).toBe(taskId);
    for (const overrides of [
      { 'mcp-name': 'ing_someone_else' },
      { 'mcp-name': undefined },
      { 'mcp-method': 'tasks/cancel' },
    ]) {
      const refused = await get(overrides);
      expect(refused.status, JSON.stringify(overrides)).toBe(400);
      expect(refused.error?.code, JSON.stringify(overrides)).toBe(-32020);
    }
  });
});
