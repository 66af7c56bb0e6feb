import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { limits, subscribeAck, type SocketError } from '@hopper/contracts';
import { startRedisServer, type RedisServer } from '@hopper/redis';
import {
  connectLegacy,
  connectModern,
  structured,
  toolError,
  waitForJob,
  type JobOut,
} from '../support/clients.ts';
import { TestSocket, baseUrl } from '../support/socket-client.ts';
import { TestStack } from '../support/stack.ts';

const ACME = 'acme-key-0123456789abcdef';
const GLOBEX = 'globex-key-0123456789abcdef';
const INITECH = 'initech-key-0123456789abcdef';
const API_KEYS = `acme:${ACME},globex:${GLOBEX},initech:${INITECH}`;
/** Longer than the gateway reuses a queue's waiting count (250 ms). */
const BACKLOG_REFRESH_MS = 300;

interface ToolResult {
  isError?: boolean;
  content?: { text?: string }[];
  _meta?: { 'hopper/error'?: { code?: string; retryAfterSeconds?: number } };
}

function connect(url: string, key: string): Promise<Client> {
  return connectModern(url, { requestInit: { headers: { authorization: `Bearer ${key}` } } });
}

/** The machine-readable part of a tool error. */
function errorMeta(result: unknown): { code?: string; retryAfterSeconds?: number } {
  const r = result as ToolResult;
  if (!r.isError) throw new Error(`expected a tool error, got ${JSON.stringify(result)}`);
  return r._meta?.['hopper/error'] ?? {};
}

async function rest(url: string, key: string, method: string, path: string, body?: unknown) {
  const response = await fetch(url.replace('/mcp', path), {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: (await response.json()) as { error?: { code: string; message: string } } & Record<string, unknown>,
  };
}

describe('per-tenant rate limit', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await TestStack.start({
      redisUrl: inject('redisUrl'),
      workers: 0,
      // Three calls at once, then one every ten seconds: nothing refills during the test.
      env: { HOPPER_API_KEYS: API_KEYS, HOPPER_RATE_LIMIT_PER_SECOND: '0.1', HOPPER_RATE_LIMIT_BURST: '3' },
    });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('refuses a tenant over its rate as busy, with when to retry, and leaves other tenants alone', async () => {
    const acme = await connect(stack.url, ACME);
    const globex = await connect(stack.url, GLOBEX);
    for (let i = 0; i < 3; i++) structured(await acme.callTool({ name: 'list_jobs', arguments: {} }));

    const refused = await acme.callTool({ name: 'list_jobs', arguments: {} });
    expect(toolError(refused)).toMatch(
      /rate limit reached for this tenant \(0.1 calls per second, bursts of 3\); retry after \d+ s/,
    );
    const meta = errorMeta(refused);
    expect(meta.code).toBe('busy');
    expect(meta.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(meta.retryAfterSeconds).toBeLessThanOrEqual(10);

    // REST draws on the same bucket: 429 with Retry-After.
    const overRest = await rest(stack.url, ACME, 'GET', '/v1/jobs');
    expect(overRest.status).toBe(429);
    expect(Number(overRest.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(overRest.body.error?.code).toBe('busy');
    expect(overRest.body.error?.message).toMatch(/rate limit/);

    // The other tenant has its own bucket.
    structured(await globex.callTool({ name: 'list_jobs', arguments: {} }));
    expect((await rest(stack.url, GLOBEX, 'GET', '/v1/jobs')).status).toBe(200);
    await acme.close();
    await globex.close();
  });

  it('charges Socket.IO events to the same budget as tool calls', async () => {
    const client = await connect(stack.url, INITECH);
    const socket = await TestSocket.connect(baseUrl(stack.url), { token: INITECH });
    try {
      // Two events and a call spend the budget of 3...
      expect(await socket.subscribeFeed()).toMatchObject({ ok: true });
      expect(await socket.unsubscribe('some-job')).toEqual({ ok: true });
      structured(await client.callTool({ name: 'list_jobs', arguments: {} }));

      // ...so the next call is refused, and so is the next event, each with when to retry.
      expect(toolError(await client.callTool({ name: 'list_jobs', arguments: {} }))).toMatch(/rate limit/);
      const refused = await socket.subscribeFeed();
      expect(subscribeAck.safeParse(refused).success).toBe(true);
      expect(refused.ok).toBe(false);
      const error = (refused as { error: SocketError }).error;
      expect(error.code).toBe('busy');
      expect(error.message).toMatch(
        /^rate limit reached for this tenant \(0.1 calls per second, bursts of 3\); retry after \d+ s$/,
      );
      expect(error.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(error.retryAfterSeconds).toBeLessThanOrEqual(10);
    } finally {
      socket.close();
      await client.close();
    }
  });
});

describe('per-socket event limit', () => {
  let stack: TestStack;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    // Bursts of 10, then one event a second: the few seconds a test takes refill next to nothing.
    // No worker: jobs stay queued, so a cancel that was (not) carried out shows in the job's state.
    stack = await TestStack.start({
      redisUrl: inject('redisUrl'),
      workers: 0,
      env: { HOPPER_SOCKET_RATE_LIMIT_PER_SECOND: '1', HOPPER_SOCKET_RATE_LIMIT_BURST: '10' },
    });
  });

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await stack?.stop();
  });

  async function open(): Promise<TestSocket> {
    const socket = await TestSocket.connect(baseUrl(stack.url));
    sockets.push(socket);
    return socket;
  }

  async function queueJob(documentId: string): Promise<string> {
    const response = await fetch(`${baseUrl(stack.url)}/v1/documents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ content: `The text of ${documentId}.`, documentId, wait: false }),
    });
    expect(response.status).toBe(202);
    return ((await response.json()) as { jobId: string }).jobId;
  }

  async function jobState(jobId: string): Promise<string> {
    const response = await fetch(`${baseUrl(stack.url)}/v1/jobs/${jobId}`);
    return ((await response.json()) as { state: string }).state;
  }

  it('refuses events past the burst as busy without running them, and answers again after the wait', async () => {
    const jobId = await queueJob('socket-limit');
    const socket = await open();
    const burst = await Promise.all(Array.from({ length: 10 }, () => socket.unsubscribe('some-job')));
    expect(burst).toEqual(Array.from({ length: 10 }, () => ({ ok: true })));

    const refused = await socket.cancel(jobId);
    expect(refused.ok).toBe(false);
    const error = (refused as { error: SocketError }).error;
    expect(error).toEqual({
      code: 'busy',
      message: 'too many events on this socket (1 events per second, bursts of 10); retry after 1 s',
      retryAfterSeconds: 1,
    });
    // The cancel was not carried out.
    expect(await jobState(jobId)).toBe('queued');

    // Waiting as told is enough: the same request is then answered.
    await sleep(error.retryAfterSeconds! * 1000);
    expect(await socket.cancel(jobId)).toMatchObject({ ok: true, job: { jobId, state: 'cancelled' } });
    expect(await jobState(jobId)).toBe('cancelled');
    expect(socket.socket.connected).toBe(true);
  });

  it('disconnects a socket that keeps flooding after being refused, and serves the tenant’s other sockets', async () => {
    const flooder = await open();
    const neighbour = await open();
    const closed = new Promise<string>((resolve) => flooder.socket.once('disconnect', resolve));
    // Its burst is served. (Awaited first: an event the gateway accepted is answered after its handler
    // runs, and a socket cut off before then gets no answer, as any client that floods can expect.)
    const burst = await Promise.all(Array.from({ length: 10 }, () => flooder.unsubscribe('some-job')));
    expect(burst).toEqual(Array.from({ length: 10 }, () => ({ ok: true })));
    const answers: { ok: boolean; error?: SocketError }[] = [];
    for (let i = 0; i < 290; i++) {
      flooder.socket.emit('unsubscribe', { jobId: 'some-job' }, (answer) => answers.push(answer));
    }
    expect(await closed).toBe('io server disconnect');
    // Then refusals up to ten bursts' worth (plus a token or two refilled meanwhile, whose events
    // may be served) before it is cut off.
    expect(answers.filter((a) => a.ok).length).toBeLessThanOrEqual(2);
    const refused = answers.filter((a) => !a.ok);
    expect(refused.length).toBeGreaterThanOrEqual(99);
    expect(refused.length).toBeLessThan(110);
    expect(refused.every((a) => a.error?.code === 'busy' && a.error.retryAfterSeconds === 1)).toBe(true);

    // The tenant's other socket has its own bucket and keeps working.
    expect(await neighbour.unsubscribe('some-job')).toEqual({ ok: true });
    expect(await neighbour.subscribeFeed()).toMatchObject({ ok: true });

    // Logged once, and counted.
    const gateway = stack.gateways[0]!;
    expect(gateway.lines.filter((line) => line.includes('long after being refused'))).toHaveLength(1);
    const metrics = await (await fetch(`${baseUrl(stack.url)}/metrics`)).text();
    expect(metrics).toMatch(/^hopper_flooded_sockets_total\{[^}]*\} 1$/m);
    expect(metrics).toMatch(/^hopper_limit_refusals_total\{[^}]*limit="socket_rate"[^}]*\} [1-9]/m);
  });
});

describe('job limits', () => {
  let stack: TestStack;
  let acme: Client;
  let globex: Client;

  beforeAll(async () => {
    // No worker at first: jobs stay queued, as under a backlog.
    stack = await TestStack.start({
      redisUrl: inject('redisUrl'),
      workers: 0,
      env: { HOPPER_API_KEYS: API_KEYS, HOPPER_MAX_JOBS_PER_TENANT: '2', HOPPER_MAX_QUEUE_DEPTH: '3' },
    });
    acme = await connect(stack.url, ACME);
    globex = await connect(stack.url, GLOBEX);
  });

  afterAll(async () => {
    await acme?.close();
    await globex?.close();
    await stack?.stop();
  });

  const ingest = (client: Client, documentId: string) =>
    client.callTool({
      name: 'ingest_document',
      arguments: { content: `The text of ${documentId}.`, documentId, wait: false },
    });

  it('refuses metadata that is nested or too large, naming the limit', async () => {
    const nested = await acme.callTool({
      name: 'ingest_document',
      arguments: { content: 'x', metadata: { author: { name: 'Ada' } } },
    });
    expect(toolError(nested)).toMatch(/metadata is flat \(depth 1\), with no objects, arrays or null/);

    const large = Object.fromEntries(
      Array.from({ length: 10 }, (_, i) => [`field${i}`, 'x'.repeat(limits.maxMetadataValueChars)]),
    );
    expect(
      toolError(
        await acme.callTool({ name: 'ingest_document', arguments: { content: 'x', metadata: large } }),
      ),
    ).toMatch(/metadata: at most 8192 bytes as JSON/);
    const overRest = await rest(stack.url, ACME, 'POST', '/v1/documents', { content: 'x', metadata: large });
    expect(overRest.status).toBe(400);
    expect(overRest.body.error?.code).toBe('invalid_argument');
    expect(overRest.body.error?.message).toMatch(/8192 bytes/);
    // Nothing was queued.
    expect(
      structured<{ jobs: unknown[] }>(await acme.callTool({ name: 'list_jobs', arguments: {} })).jobs,
    ).toEqual([]);
  });

  it('bounds the jobs a tenant has queued or running, and the queue as a whole', async () => {
    const first = structured<JobOut>(await ingest(acme, 'a'));
    structured(await ingest(acme, 'b'));
    const third = await ingest(acme, 'c');
    expect(toolError(third)).toMatch(/too many jobs queued or running for this tenant \(the limit is 2\)/);
    expect(errorMeta(third)).toEqual({ code: 'busy', retryAfterSeconds: 1 });
    // The same ingest again is the same job, not a new one: not refused.
    expect(structured<JobOut>(await ingest(acme, 'a')).jobId).toBe(first.jobId);
    // Another tenant has its own slots.
    structured(await ingest(globex, 'x'));

    // Cancelling a job gives its slot back.
    structured(await acme.callTool({ name: 'cancel_job', arguments: { jobId: first.jobId } }));
    const c = structured<JobOut>(await ingest(acme, 'c'));

    // b, x and c wait: the queue holds its limit of 3, and takes no more from anyone.
    await sleep(BACKLOG_REFRESH_MS);
    expect(toolError(await ingest(globex, 'y'))).toMatch(
      /the ingest queue is full \(3 jobs waiting; the limit is 3\); retry after 5 s/,
    );
    const overRest = await rest(stack.url, GLOBEX, 'POST', '/v1/documents', { content: 'z', wait: false });
    expect(overRest.status).toBe(429);
    expect(overRest.retryAfter).toBe('5');
    expect(overRest.body.error?.code).toBe('busy');

    // A worker drains the queue; finished jobs give their slots back.
    await stack.startWorker();
    await waitForJob(acme, c.jobId, (job) => job.state === 'completed');
    const { jobs } = structured<{ jobs: JobOut[] }>(
      await globex.callTool({ name: 'list_jobs', arguments: {} }),
    );
    await Promise.all(jobs.map((job) => waitForJob(globex, job.jobId, (j) => j.state === 'completed')));
    await waitForJob(
      acme,
      structured<JobOut>(await ingest(acme, 'b')).jobId,
      (job) => job.state === 'completed',
    );
    await sleep(BACKLOG_REFRESH_MS);
    expect(structured<JobOut>(await ingest(globex, 'y')).state).toBe('queued');
    structured(await ingest(acme, 'd'));
    structured(await ingest(acme, 'e'));
  });
});

describe('rate limiter during a Redis outage', () => {
  let dir: string;
  let redis: RedisServer;
  let stack: TestStack;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hopper-limits-'));
    redis = await startRedisServer({ dir, appendOnly: false });
    // Text searches need no worker.
    stack = await TestStack.start({
      redisUrl: redis.url,
      workers: 0,
      env: { HOPPER_RATE_LIMIT_PER_SECOND: '0.1', HOPPER_RATE_LIMIT_BURST: '2' },
    });
  });

  afterAll(async () => {
    await stack?.stop().catch(() => undefined);
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('lets calls through unchecked (fail open), logged and counted, while Redis is down', async () => {
    const client = await connectLegacy(stack.url);
    const search = () =>
      client.callTool({ name: 'search', arguments: { query: 'lighthouse keeper', mode: 'text' } });
    structured(await search());
    structured(await search());
    expect(toolError(await search())).toMatch(/rate limit reached/);

    await redis.stop();
    // Over the limit, but the limiter cannot be asked: the search is answered from the store.
    expect(structured<{ results: unknown[] }>(await search()).results).toEqual([]);
    expect(stack.gateways[0]?.lines.some((line) => line.includes('rate limiter unavailable'))).toBe(true);
    const metrics = await (await fetch(stack.url.replace('/mcp', '/metrics'))).text();
    expect(metrics).toMatch(/^hopper_rate_limiter_failures_total\{[^}]*\} [1-9]/m);
    expect(metrics).toMatch(/^hopper_limit_refusals_total\{[^}]*limit="rate"[^}]*\} 1$/m);
    await client.close();
    // Back on the same port, so the stack shuts down without waiting for Redis.
    redis = await startRedisServer({ dir, appendOnly: false, port: redis.port });
  });
});
