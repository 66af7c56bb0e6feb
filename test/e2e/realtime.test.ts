import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { createKeys } from '@hopper/contracts';
import { createLogger } from '@hopper/lifecycle';
import { JobRecords, JobsService, ProgressSubscriber, createQueues } from '@hopper/jobs';
import { closeRedis, createRedis } from '@hopper/redis';
import { openStoreReader, type StoreReader } from '@hopper/store';
import { createMetrics } from '@hopper/telemetry';
import { attachRealtime, type Realtime } from '../../apps/gateway/src/realtime/realtime-server.ts';
import { UnauthorizedError, type TenantResolver } from '../../apps/gateway/src/tenant-resolver.ts';
import { connectModern, structured } from '../support/clients.ts';
import { EmbeddingsDouble } from '../support/embeddings-double.ts';
import { paragraphsAbout } from '../support/fault-documents.ts';
import { TestSocket, baseUrl, checkSequence } from '../support/socket-client.ts';
import { TestStack } from '../support/stack.ts';

interface JobHandle {
  jobId: string;
  state: string;
}

let stack: TestStack;
let embeddings: EmbeddingsDouble;
let urlA: string;
let urlB: string;
const sockets: TestSocket[] = [];

async function connect(url: string, options: { token?: string; origin?: string } = {}): Promise<TestSocket> {
  const socket = await TestSocket.connect(url, options);
  sockets.push(socket);
  return socket;
}

/** Queues an ingest through a gateway's REST API without waiting for it. */
async function startIngest(url: string, documentId: string, content: string): Promise<JobHandle> {
  const response = await fetch(`${url}/v1/documents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ content, documentId, collection: 'realtime', wait: false }),
  });
  expect(response.status).toBe(202);
  return (await response.json()) as JobHandle;
}

beforeAll(async () => {
  embeddings = await EmbeddingsDouble.start();
  // Two gateway replicas and two workers on one machine, as the issue asks; no sticky sessions.
  stack = await TestStack.start({
    redisUrl: inject('redisUrl'),
    gateways: 2,
    workers: 2,
    env: embeddings.env,
  });
  urlA = baseUrl(stack.gateways[0]!.url);
  urlB = baseUrl(stack.gateways[1]!.url);
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await stack?.stop();
  await embeddings?.stop();
});

describe('Socket.IO job events', () => {
  it('a subscriber gets the current state, then monotonic progress, then exactly one terminal event', async () => {
    embeddings.delayMs = 100;
    const socket = await connect(urlA);
    const job = await startIngest(urlA, 'heron', paragraphsAbout('heron', 400));
    expect(await socket.subscribe(job.jobId)).toEqual({ ok: true });

    const end = await socket.waitForEnd(job.jobId);
    await socket.barrier();
    const events = socket.jobEvents(job.jobId);
    expect(socket.invalid).toEqual([]);
    // The first event is the job's state at the moment of subscribing.
    expect(['queued', 'active', 'progress']).toContain(events[0]?.payload.state);
    // Several progress events with stages, never going backwards.
    const progress = events.filter((e) => e.name === 'job:progress');
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress.some((e) => e.payload.stage === 'embedding')).toBe(true);
    expect(checkSequence(events)).toEqual({ terminal: 1, monotonic: true, lastIsTerminal: true });
    expect(end.name).toBe('job:completed');
    expect(end.payload).toMatchObject({ state: 'completed', progress: 1, result: { documentId: 'heron' } });
  });

  it('a late subscriber gets the current state first: mid-flight, and after the end', async () => {
    embeddings.delayMs = 100;
    const early = await connect(urlA);
    const job = await startIngest(urlA, 'otter', paragraphsAbout('otter', 400));
    await early.subscribe(job.jobId);
    const seen = await early.waitFor(
      (e) => e.payload.jobId === job.jobId && e.name === 'job:progress' && (e.payload.progress ?? 0) >= 0.3,
    );

    // Joins mid-flight on the other replica: starts from where the job is, not from zero.
    const late = await connect(urlB);
    await late.subscribe(job.jobId);
    const first = late.jobEvents(job.jobId)[0];
    expect(first?.name).toBe('job:progress');
    expect(first?.payload.progress).toBeGreaterThanOrEqual(seen.payload.progress ?? 0);

    await early.waitForEnd(job.jobId);
    await late.waitForEnd(job.jobId);
    await late.barrier();
    expect(checkSequence(late.jobEvents(job.jobId))).toEqual({
      terminal: 1,
      monotonic: true,
      lastIsTerminal: true,
    });

    // Subscribing after the end delivers the end (with its result) and nothing else.
    const after = await connect(urlA);
    expect(await after.subscribe(job.jobId)).toEqual({ ok: true });
    await after.barrier();
    const events = after.jobEvents(job.jobId);
    expect(events.map((e) => e.name)).toEqual(['job:completed']);
    expect(events[0]?.payload).toMatchObject({
      progress: 1,
      result: { documentId: 'otter', chunks: expect.any(Number) as number },
    });
  });

  it('a cancel sent over the socket stops the job; the subscriber sees job:cancelled once', async () => {
    embeddings.delayMs = 150;
    const socket = await connect(urlA);
    const job = await startIngest(urlA, 'salmon', paragraphsAbout('salmon', 400));
    await socket.subscribe(job.jobId);
    await socket.waitFor((e) => e.payload.jobId === job.jobId && e.payload.stage === 'embedding');

    const answer = await socket.cancel(job.jobId);
    expect(answer).toEqual({ ok: true, job: { jobId: job.jobId, state: 'cancelled' } });
    await socket.waitForEnd(job.jobId);
    await socket.barrier();
    const events = socket.jobEvents(job.jobId);
    expect(events.at(-1)?.name).toBe('job:cancelled');
    expect(checkSequence(events).terminal).toBe(1);
    const record = (await (await fetch(`${urlB}/v1/jobs/${job.jobId}`)).json()) as JobHandle;
    expect(record.state).toBe('cancelled');
  });

  it('refuses unknown jobs and malformed requests with a clear answer', async () => {
    const socket = await connect(urlA);
    expect(await socket.subscribe('ing_does_not_exist')).toEqual({
      ok: false,
      error: { code: 'not_found', message: "job 'ing_does_not_exist' was not found" },
    });
    expect(await socket.cancel('ing_does_not_exist')).toMatchObject({
      ok: false,
      error: { code: 'not_found' },
    });
    const malformed = (await socket.socket.emitWithAck('subscribe', { job: 42 } as never)) as {
      ok: boolean;
      error?: { code: string; message: string };
    };
    expect(malformed).toMatchObject({ ok: false, error: { code: 'invalid_argument' } });
    expect(malformed.error?.message).toMatch(/jobId/);
  });

  it('refuses a WebSocket opened by a page of another site (Origin check)', async () => {
    await expect(TestSocket.connect(urlA, { origin: 'http://evil.example' })).rejects.toThrow();
    const sameOrigin = await connect(urlA, { origin: urlA });
    expect(sameOrigin.socket.connected).toBe(true);
  });

  it('the jobs feed lists recent jobs and announces new jobs and state changes', async () => {
    embeddings.delayMs = 0;
    const socket = await connect(urlA);
    expect((await socket.subscribeFeed(5)).ok).toBe(true);

    // Started through the other replica.
    const job = await startIngest(urlB, 'kingfisher', 'A short note about kingfishers.');
    await socket.waitFor((e) => e.name === 'jobs' && isJob(e.payload.job, job.jobId, 'completed'));
    await socket.barrier();
    const states = socket.feedEvents(job.jobId).map((e) => (e.payload.job as JobHandle).state);
    // New (queued) first, completed last; mere progress never appears in the feed.
    expect(states[0]).toBe('queued');
    expect(states.at(-1)).toBe('completed');
    expect(states.length).toBeLessThanOrEqual(4);

    // A new follower gets the recent jobs, newest first, in the acknowledgement.
    const later = await connect(urlB);
    const ack = await later.subscribeFeed(3);
    expect(ack.ok && ack.jobs?.[0]).toMatchObject({
      jobId: job.jobId,
      state: 'completed',
      documentId: 'kingfisher',
    });
  });
});

describe('two gateway replicas, two workers', () => {
  let mcpB: Client;

  beforeAll(async () => {
    mcpB = await connectModern(stack.gateways[1]!.url);
  });

  afterAll(async () => {
    await mcpB?.close();
  });

  it('a socket on gateway A sees the progress of a job started through gateway B', async () => {
    embeddings.delayMs = 60;
    const socket = await connect(urlA);
    await socket.subscribeFeed();
    const handle = structured<JobHandle>(
      await mcpB.callTool({
        name: 'ingest_document',
        arguments: {
          content: paragraphsAbout('plover', 270),
          documentId: 'plover',
          collection: 'realtime',
          wait: false,
        },
      }),
    );
    // A learns of the job from its feed, subscribes, and follows it to the end.
    await socket.waitFor((e) => e.name === 'jobs' && isJob(e.payload.job, handle.jobId));
    await socket.subscribe(handle.jobId);
    const end = await socket.waitForEnd(handle.jobId);
    expect(end.name).toBe('job:completed');
    expect(socket.jobEvents(handle.jobId).some((e) => e.name === 'job:progress')).toBe(true);
  });

  it('a cancel sent to A stops a job whose MCP call waits on B, and the waiting call gets the cancellation', async () => {
    embeddings.delayMs = 150;
    const socket = await connect(urlA);
    await socket.subscribeFeed();
    const progress: number[] = [];
    const call = mcpB.callTool(
      {
        name: 'ingest_document',
        arguments: { content: paragraphsAbout('trout', 400), documentId: 'trout', collection: 'realtime' },
      },
      { onprogress: (p) => progress.push(p.progress) },
    );

    const announced = await socket.waitFor(
      (e) => e.name === 'jobs' && (e.payload.job as { documentId?: string }).documentId === 'trout',
    );
    const jobId = (announced.payload.job as JobHandle).jobId;
    await socket.subscribe(jobId);
    await socket.waitFor((e) => e.payload.jobId === jobId && e.payload.stage === 'embedding');

    expect(await socket.cancel(jobId)).toEqual({ ok: true, job: { jobId, state: 'cancelled' } });
    // The call waiting on B ends with the cancellation, and A's subscriber saw it too.
    const result = structured<JobHandle>(await call);
    expect(result).toMatchObject({ jobId, state: 'cancelled' });
    expect(progress.length).toBeGreaterThan(0);
    expect((await socket.waitForEnd(jobId)).name).toBe('job:cancelled');
  });

  it('holds one Redis subscription per gateway per job, however many sockets follow it', async () => {
    embeddings.delayMs = 150;
    const job = await startIngest(urlA, 'grebe', paragraphsAbout('grebe', 400));
    const channel = `${stack.prefix}:t:local:progress:${job.jobId}`;
    const subscribers = async () => {
      const reply = (await stack.redis.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
      return Number(reply[1]);
    };
    const onA = [await connect(urlA), await connect(urlA), await connect(urlA)];
    for (const socket of onA) await socket.subscribe(job.jobId);
    expect(await subscribers()).toBe(1);
    const onB = await connect(urlB);
    await onB.subscribe(job.jobId);
    expect(await subscribers()).toBe(2);

    // The last socket leaving a gateway releases its subscription; disconnecting counts as leaving.
    await onA[0]!.unsubscribe(job.jobId);
    onA[1]!.close();
    expect(await subscribers()).toBe(2);
    await onA[2]!.unsubscribe(job.jobId);
    await until(async () => (await subscribers()) === 1);
    await onB.cancel(job.jobId);
    await onB.waitForEnd(job.jobId);
    // A finished job needs no subscription at all.
    await until(async () => (await subscribers()) === 0);
  });
});

describe('tenant isolation (resolver injected, as authentication will plug in)', () => {
  let server: Server;
  let realtime: Realtime;
  let store: StoreReader;
  let url: string;
  const closers: (() => Promise<unknown>)[] = [];

  // The test's resolver: the handshake token names the tenant. Production resolves it from an API key
  // or an access token.
  const byToken: TenantResolver = (request) =>
    request.token
      ? Promise.resolve({ tenant: request.token, scopes: ['read', 'write'] })
      : Promise.reject(new UnauthorizedError('a token is required', { invalidToken: false }));

  beforeAll(async () => {
    // A third gateway front in this process, on the stack's Redis and store: the same realtime
    // module as in the gateway, with the resolver a test can choose.
    const redisUrl = inject('redisUrl');
    const keys = createKeys(stack.prefix);
    const onError = () => undefined;
    const redis = createRedis(redisUrl, { name: 'test', role: 'command', onError });
    const subscriber = createRedis(redisUrl, { name: 'test', role: 'subscriber', onError });
    const bull = createRedis(redisUrl, { name: 'test', role: 'bullmq', onError });
    const records = new JobRecords(redis, keys);
    const progress = new ProgressSubscriber(subscriber, records, keys);
    store = await openStoreReader({
      uri: join(stack.env.HOPPER_DATA_DIR ?? '', 'store'),
      readConsistencyIntervalSeconds: 0,
    });
    const queues = createQueues(bull, keys);
    const jobs = new JobsService({ redis, keys, records, queues, progress, documents: store });
    server = createServer((_req, res) => res.writeHead(404).end());
    realtime = attachRealtime(server, {
      subscriber,
      records,
      progress,
      keys,
      cancel: async (tenant, jobId) => (await jobs.cancel(tenant, jobId)).job,
      resolveTenant: byToken,
      allowedHosts: new Set(['127.0.0.1']),
      // Limits have their own tests (limits.test.ts); these few requests stay far below them.
      eventLimit: undefined,
      chargeTenant: undefined,
      metrics: createMetrics('gateway'),
      // Warnings (an event that could not be delivered) show in the test output.
      logger: createLogger('realtime-test', 'warn'),
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    closers.push(
      () => realtime.close(),
      () => new Promise((resolve) => server.close(resolve)),
      () => Promise.all(Object.values(queues).map((q) => q.close())),
      () => store.close(),
      () => closeRedis(redis),
      () => closeRedis(subscriber),
      () => closeRedis(bull),
    );
  });

  afterAll(async () => {
    for (const close of closers) await close().catch(() => undefined);
  });

  it('refuses a handshake the resolver rejects', async () => {
    await expect(TestSocket.connect(url)).rejects.toThrow(/a token is required/);
  });

  it("a socket never sees, follows or cancels another tenant's job", async () => {
    embeddings.delayMs = 100;
    const owner = await connect(url, { token: 'local' });
    const intruder = await connect(url, { token: 'intruder' });
    await owner.subscribeFeed();
    const intruderFeed = await intruder.subscribeFeed();
    expect(intruderFeed).toEqual({ ok: true, jobs: [] });

    // A job of tenant `local`, started through a real gateway.
    const job = await startIngest(urlA, 'egret', paragraphsAbout('egret', 270));
    expect(await intruder.subscribe(job.jobId)).toMatchObject({ ok: false, error: { code: 'not_found' } });
    expect(await intruder.cancel(job.jobId)).toMatchObject({ ok: false, error: { code: 'not_found' } });

    expect(await owner.subscribe(job.jobId)).toEqual({ ok: true });
    const end = await owner.waitForEnd(job.jobId);
    // The intruder's cancel changed nothing: the job ran to the end, and the owner's feed said so.
    expect(end.name).toBe('job:completed');
    await owner.waitFor((e) => e.name === 'jobs' && isJob(e.payload.job, job.jobId, 'completed'));
    expect(owner.invalid).toEqual([]);
    await intruder.barrier();
    expect(intruder.events).toEqual([]);
    expect(intruder.invalid).toEqual([]);
  });
});

function isJob(job: unknown, jobId: string, state?: string): boolean {
  const view = job as JobHandle;
  return view.jobId === jobId && (state === undefined || view.state === state);
}

/** Re-checks a condition Redis reports asynchronously (an UNSUBSCRIBE landing). */
async function until(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 20));
}
