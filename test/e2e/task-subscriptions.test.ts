import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createKeys } from '@hopper/contracts';
import { MODERN_PROTOCOL_VERSION } from '../support/clients.ts';
import { EmbeddingsDouble } from '../support/embeddings-double.ts';
import { paragraphsAbout } from '../support/fault-documents.ts';
import { TestStack } from '../support/stack.ts';

/**
 * `subscriptions/listen` (2026-07-28) with task status notifications (Tasks extension, SEP-2663),
 * through real HTTP on two gateway replicas, one worker and real Redis: a task created on one
 * replica, run by the worker, is followed by a listener on the other. The SDK's client (2.4) cannot
 * open a listen stream toward a 2026-07-28 server with task ids, so this speaks raw JSON-RPC and reads
 * the event stream itself.
 */

const TASKS = 'io.modelcontextprotocol/tasks';
const SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';
const SERVER_INFO: unknown = expect.objectContaining({ name: 'hopper' });
const ACME = 'acme-key-0123456789abcdef';
const GLOBEX = 'globex-key-0123456789abcdef';
/** Low, so the test can reach it; the default is 16 (docs/limits.md). */
const STREAMS_PER_TENANT = 2;

let embeddings: EmbeddingsDouble;
let stack: TestStack;

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
      HOPPER_MAX_SUBSCRIPTIONS_PER_TENANT: String(STREAMS_PER_TENANT),
    },
  });
});

afterAll(async () => {
  await stack?.stop();
  await embeddings?.stop();
});

interface Options {
  key?: string;
  replica?: string;
  tasks?: boolean;
  id?: string | number;
}

interface Message {
  jsonrpc: '2.0';
  id?: string | number;
  method?: string;
  params?: Record<string, unknown> & { _meta?: Record<string, unknown> };
  result?: Record<string, unknown> & { _meta?: Record<string, unknown> };
  error?: { code: number; message: string; data?: Record<string, unknown> };
}

function envelope(tasks: boolean) {
  return {
    'io.modelcontextprotocol/protocolVersion': MODERN_PROTOCOL_VERSION,
    'io.modelcontextprotocol/clientInfo': { name: 'hopper-test-listen', version: '1.0.0' },
    'io.modelcontextprotocol/clientCapabilities': tasks ? { extensions: { [TASKS]: {} } } : {},
  };
}

function headers(method: string, key: string, name?: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    authorization: `Bearer ${key}`,
    'mcp-protocol-version': MODERN_PROTOCOL_VERSION,
    'mcp-method': method,
    ...(name === undefined ? {} : { 'mcp-name': name }),
  };
}

function urlOf(replica: string | undefined): string {
  return replica ?? stack.gateways[0]!.url;
}

/** One JSON-RPC request answered with JSON (a task call, `tasks/get`, `tasks/cancel`). */
async function rpc(
  method: string,
  params: Record<string, unknown>,
  { key = ACME, replica }: Options = {},
): Promise<Message> {
  const name = method === 'tools/call' ? params.name : params.taskId;
  const response = await fetch(urlOf(replica), {
    method: 'POST',
    headers: headers(method, key, typeof name === 'string' ? name : undefined),
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: envelope(true) } }),
  });
  return (await response.json()) as Message;
}

async function createTask(documentId: string, paragraphs: number, key = ACME): Promise<string> {
  const answer = await rpc(
    'tools/call',
    {
      name: 'ingest_document',
      arguments: { content: paragraphsAbout(documentId, paragraphs), documentId, collection: 'listen' },
    },
    { key },
  );
  expect(answer.result?.resultType).toBe('task');
  return answer.result!.taskId as string;
}

/** A `subscriptions/listen` stream, read as the messages arrive. */
class Listen {
  readonly messages: Message[] = [];
  ended = false;
  readonly #abort: AbortController;
  #wake: () => void = () => undefined;

  private constructor(body: ReadableStream<Uint8Array>, abort: AbortController) {
    this.#abort = abort;
    void this.#read(body);
  }

  /** Opens a listen; a refusal (a JSON-RPC error answered as JSON) is returned as the message. */
  static async open(
    notifications: Record<string, unknown>,
    { key = ACME, replica, tasks = true, id = 'sub-1' }: Options = {},
  ): Promise<Listen | Message> {
    const abort = new AbortController();
    const response = await fetch(urlOf(replica), {
      method: 'POST',
      headers: headers('subscriptions/listen', key),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'subscriptions/listen',
        params: { notifications, _meta: envelope(tasks) },
      }),
      signal: abort.signal,
    });
    if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
      return (await response.json()) as Message;
    }
    return new Listen(response.body!, abort);
  }

  static async opened(notifications: Record<string, unknown>, options: Options = {}): Promise<Listen> {
    const listen = await Listen.open(notifications, options);
    if (!(listen instanceof Listen)) throw new Error(`listen refused: ${JSON.stringify(listen)}`);
    return listen;
  }

  /** The first message (from the start of the stream) that matches; the test's timeout bounds the wait. */
  async until(predicate: (message: Message) => boolean): Promise<Message> {
    for (;;) {
      const found = this.messages.find(predicate);
      if (found) return found;
      if (this.ended) throw new Error(`the stream ended without it: ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  /** Waits for the server to end the stream. */
  async end(): Promise<void> {
    while (!this.ended) await new Promise<void>((resolve) => (this.#wake = resolve));
  }

  close(): void {
    this.#abort.abort();
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = '';
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value: chunk } = await reader.read();
        if (done) break;
        buffered += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const frame = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = frame
            .split('\n')
            .filter((line) => line.startsWith('data: '))
            .map((line) => line.slice(6))
            .join('\n');
          if (data) this.messages.push(JSON.parse(data) as Message);
        }
        this.#wake();
      }
    } catch {
      // Aborted by the test.
    } finally {
      this.ended = true;
      this.#wake();
    }
  }
}

const isTask = (status: string) => (message: Message) =>
  message.method === 'notifications/tasks' && message.params?.status === status;

/** A notification's params without its `_meta`, to compare with what `tasks/get` answers. */
function withoutMeta(params: Record<string, unknown> | undefined): Record<string, unknown> {
  const { _meta, resultType, ...rest } = params ?? {};
  void _meta;
  void resultType;
  return rest;
}

async function subscribers(taskId: string, tenant = 'acme'): Promise<number> {
  const channel = createKeys(stack.prefix).progressChannel(tenant, taskId);
  const [, count] = (await stack.redis.pubsub('NUMSUB', channel)) as [string, number];
  return count;
}

describe('subscriptions/listen with task notifications', () => {
  it('server/discover tells 2026-07-28 clients that resources can be subscribed to', async () => {
    const answer = await rpc('server/discover', {});
    expect(answer.result?.capabilities).toMatchObject({ resources: { subscribe: true } });
  });

  it('a listener on gateway B sees an ingest submitted on gateway A go from working to completed, each notification the task as tasks/get answers it', async () => {
    embeddings.delayMs = 100;
    const taskId = await createTask('heron', 200);
    const uri = `hopper://jobs/${taskId}`;
    const listen = await Listen.opened(
      { taskIds: [taskId], resourceSubscriptions: [uri] },
      { replica: stack.gateways[1]!.url, id: 'sub-heron' },
    );

    const completed = await listen.until(isTask('completed'));
    embeddings.delayMs = 0;
    const [ack, ...rest] = listen.messages;
    // The acknowledgement first, naming what the server honors.
    expect(ack).toMatchObject({
      method: 'notifications/subscriptions/acknowledged',
      params: { notifications: { taskIds: [taskId], resourceSubscriptions: [uri] } },
    });
    // Every message carries the subscription id (the listen request's id).
    for (const message of listen.messages) expect(message.params?._meta?.[SUBSCRIPTION_ID]).toBe('sub-heron');

    const tasks = rest.filter((message) => message.method === 'notifications/tasks');
    expect(tasks.every((message) => message.params?.taskId === taskId)).toBe(true);
    const working = tasks.filter(isTask('working'));
    expect(
      working.some((message) =>
        /^embedding: embedded \d+ of \d+ chunks/.test(String(message.params?.statusMessage)),
      ),
    ).toBe(true);
    expect(tasks.indexOf(completed)).toBe(tasks.length - 1);
    expect(completed.params?.result).toMatchObject({
      structuredContent: { jobId: taskId, documentId: 'heron', state: 'completed', version: 1 },
    });
    // Exactly what tasks/get answers, on either replica.
    const polled = await rpc('tasks/get', { taskId });
    expect(withoutMeta(completed.params)).toEqual(withoutMeta(polled.result));
    // And the job's resource was announced as changed.
    expect(
      rest.some(
        (message) => message.method === 'notifications/resources/updated' && message.params?.uri === uri,
      ),
    ).toBe(true);

    // Hanging up stops the gateway watching the job: no Redis subscription is left behind.
    expect(await subscribers(taskId)).toBe(1);
    listen.close();
    while ((await subscribers(taskId)) > 0) await new Promise((resolve) => setTimeout(resolve, 20));
  });

  it('a listener on gateway B gets a queued embed_texts task from gateway A completed with its vectors', async () => {
    const texts = Array.from({ length: 40 }, (_, i) => `tide table line ${i}`);
    const created = await rpc('tools/call', { name: 'embed_texts', arguments: { texts } });
    expect(created.result?.resultType).toBe('task');
    const taskId = created.result!.taskId as string;
    const listen = await Listen.opened({ taskIds: [taskId] }, { replica: stack.gateways[1]!.url });
    const completed = await listen.until(isTask('completed'));
    const result = completed.params?.result as { structuredContent: { embeddings: number[][] } };
    expect(result.structuredContent.embeddings).toHaveLength(40);
    // The vectors are read, not taken: tasks/get still has them, identical.
    const polled = await rpc('tasks/get', { taskId });
    expect(withoutMeta(completed.params)).toEqual(withoutMeta(polled.result));
    listen.close();
  });

  it('a task cancelled on gateway A ends cancelled on a listener on gateway B', async () => {
    embeddings.delayMs = 150;
    const taskId = await createTask('otter', 300);
    const listen = await Listen.opened({ taskIds: [taskId] }, { replica: stack.gateways[1]!.url });
    await listen.until(
      (message) => isTask('working')(message) && /^embedding: /.test(String(message.params?.statusMessage)),
    );
    const ack = await rpc('tasks/cancel', { taskId });
    expect(ack.result?.resultType).toBe('complete');
    const cancelled = await listen.until(isTask('cancelled'));
    embeddings.delayMs = 0;
    expect(cancelled.params).not.toHaveProperty('result');
    expect(listen.messages.some(isTask('completed'))).toBe(false);
    listen.close();
  });

  it('another tenant’s task id and job URI are left out, as an unknown id is: nothing is sent for them', async () => {
    const taskId = await createTask('badger', 3);
    const unknown = 'ing_00000000000000000000000000000000';
    const acknowledgements = [];
    for (const id of [taskId, unknown]) {
      const listen = await Listen.opened(
        { taskIds: [id], resourceSubscriptions: [`hopper://jobs/${id}`] },
        { key: GLOBEX, replica: stack.gateways[1]!.url, id: 7 },
      );
      // Nothing to watch: the stream is acknowledged with nothing honored and closed gracefully.
      await listen.end();
      acknowledgements.push(listen.messages);
    }
    const [foreign, missing] = acknowledgements;
    expect(foreign).toEqual(missing);
    expect(foreign).toEqual([
      {
        jsonrpc: '2.0',
        method: 'notifications/subscriptions/acknowledged',
        params: { notifications: {}, _meta: { [SUBSCRIPTION_ID]: 7 } },
      },
      {
        jsonrpc: '2.0',
        id: 7,
        result: {
          resultType: 'complete',
          _meta: { [SUBSCRIPTION_ID]: 7, 'io.modelcontextprotocol/serverInfo': SERVER_INFO },
        },
      },
    ]);
    expect(await subscribers(taskId)).toBe(0);
  });

  it('a listener on gateway B is told when a watched document is written or deleted on gateway A, and only then', async () => {
    const egret = 'hopper://documents/egret';
    const other = 'hopper://documents/egret-%C3%A9';
    const updates = (listen: Listen, uri: string) =>
      listen.messages.filter(
        (message) => message.method === 'notifications/resources/updated' && message.params?.uri === uri,
      ).length;
    const ingestDefault = async (documentId: string, collection?: string) => {
      const answer = await rpc('tools/call', {
        name: 'ingest_document',
        arguments: {
          content: paragraphsAbout(documentId, 2),
          documentId,
          ...(collection ? { collection } : {}),
        },
      });
      if (answer.result?.resultType !== 'task') throw new Error(`not a task: ${JSON.stringify(answer)}`);
      const taskId = answer.result.taskId as string;
      for (;;) {
        const task = await rpc('tasks/get', { taskId });
        if (task.result?.status === 'completed') return;
        if (task.result?.status !== 'working') throw new Error(JSON.stringify(task));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const listen = await Listen.opened(
      { resourceSubscriptions: [egret, other] },
      { replica: stack.gateways[1]!.url, tasks: false, id: 'sub-docs' },
    );
    // Another tenant naming the same URI watches its own document of that id, not acme's.
    const foreign = await Listen.opened(
      { resourceSubscriptions: [egret] },
      { key: GLOBEX, replica: stack.gateways[1]!.url, tasks: false },
    );
    await listen.until((message) => message.method === 'notifications/subscriptions/acknowledged');
    expect(listen.messages[0]?.params?.notifications).toEqual({ resourceSubscriptions: [egret, other] });

    // Not stored yet: its first version is an update.
    await ingestDefault('egret');
    await listen.until((message) => message.params?.uri === egret);
    // A document of the same id in another collection is another resource; the other watched
    // document's write re-reads egret, unchanged.
    await ingestDefault('egret', 'listen');
    await ingestDefault('egret-é');
    await listen.until((message) => message.params?.uri === other);
    expect(updates(listen, egret)).toBe(1);

    const deleted = await rpc('tools/call', { name: 'delete_document', arguments: { documentId: 'egret' } });
    expect(deleted.error).toBeUndefined();
    await listen.until(() => updates(listen, egret) >= 2);
    for (const message of listen.messages) expect(message.params?._meta?.[SUBSCRIPTION_ID]).toBe('sub-docs');
    expect(updates(foreign, egret)).toBe(0);
    listen.close();
    foreign.close();
  });

  it('a listen over the limits is refused with an error that names the limit', async () => {
    const taskId = await createTask('vole', 2);

    const tooMany = await Listen.open({
      taskIds: Array.from({ length: 101 }, (_, i) => `ing_${String(i).padStart(32, '0')}`),
    });
    expect(tooMany).toMatchObject({ error: { code: -32602 } });
    expect((tooMany as Message).error?.message).toMatch(
      /names 101 task ids and resource URIs; .* at most 100/,
    );

    const withoutExtension = await Listen.open({ taskIds: [taskId] }, { tasks: false });
    expect(withoutExtension).toMatchObject({
      error: { code: -32021, data: { requiredCapabilities: { extensions: { [TASKS]: {} } } } },
    });

    // Streams per tenant, per gateway: the third is refused until one closes.
    const open = await Promise.all(
      Array.from({ length: STREAMS_PER_TENANT }, (_, i) => Listen.opened({ taskIds: [taskId] }, { id: i })),
    );
    // A task that already ended is sent as it stands right after the acknowledgement.
    for (const listen of open) await listen.until(isTask('completed'));
    const refused = await Listen.open({ taskIds: [taskId] });
    expect(refused).toMatchObject({ error: { code: -32000, data: { code: 'busy' } } });
    expect((refused as Message).error?.message).toMatch(
      /has 2 subscriptions open on this gateway.*close one/,
    );
    // Another replica, and another tenant, are not affected.
    const elsewhere = await Listen.opened({ taskIds: [taskId] }, { replica: stack.gateways[1]!.url });
    elsewhere.close();

    open[0]!.close();
    for (;;) {
      const again = await Listen.open({ taskIds: [taskId] });
      if (again instanceof Listen) {
        await again.until(isTask('completed'));
        again.close();
        break;
      }
      // The gateway learns of the hang-up when the connection closes: wait for it, not a fixed time.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    open[1]!.close();
  });

  it('a gateway shutting down closes its listen streams the way the spec closes one, and exits', async () => {
    const gateway = await stack.startGateway();
    const taskId = await createTask('wren', 2);
    const listen = await Listen.opened({ taskIds: [taskId] }, { replica: gateway.url, id: 'sub-wren' });
    await listen.until(isTask('completed'));

    const code = await gateway.stop();
    await listen.end();
    expect(code).toBe(0);
    expect(listen.messages.at(-1)).toEqual({
      jsonrpc: '2.0',
      id: 'sub-wren',
      result: {
        resultType: 'complete',
        _meta: { [SUBSCRIPTION_ID]: 'sub-wren', 'io.modelcontextprotocol/serverInfo': SERVER_INFO },
      },
    });
  });
});
