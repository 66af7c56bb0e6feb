import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { contentHash, createKeys, ingestFingerprint, type IngestPayload } from '@hopper/contracts';
import { resolveChunkOptions } from '@hopper/documents';
import { createBuiltinEmbedder } from '@hopper/embeddings';
import { withEmbeddingCache } from '@hopper/cache';
import { putPayload, type JobContext } from '@hopper/jobs';
import { openStoreWriter, type StoreWriter } from '@hopper/store';
import { createIngestHandler } from './ingest-handler.ts';

const keys = createKeys(`test-${randomUUID().slice(0, 8)}`);
const text = 'Harbour log.\n\nThe pilot boat went out at six and came back with the tide at nine.';
let dir: string;
let redis: Redis;
let store: StoreWriter;
let ingest: ReturnType<typeof createIngestHandler>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hopper-ingest-'));
  redis = new Redis(inject('redisUrl'));
  store = await openStoreWriter({ uri: dir });
  const builtin = createBuiltinEmbedder();
  const embedder = withEmbeddingCache(builtin, {
    redis,
    keys,
    space: builtin.model,
    ttlSeconds: 60,
    timeoutMs: 1_000,
  });
  ingest = createIngestHandler({ redis, keys, store, embedder, batchSize: 32 });
});

afterAll(async () => {
  await store?.close();
  const leftovers = await redis.keys(`${keys.prefix}:*`);
  if (leftovers.length > 0) await redis.del(...leftovers);
  redis.disconnect();
  await rm(dir, { recursive: true, force: true });
});

/** A payload as the gateway sends it: its `contentHash` is the fingerprint of all its fields. */
function payload(overrides: Partial<Omit<IngestPayload, 'contentHash'>> = {}): IngestPayload {
  const fields = {
    tenant: 't1',
    collection: 'default',
    documentId: 'log',
    metadata: { port: 'north' },
    mediaType: 'text/plain',
    encoding: 'text' as const,
    ...overrides,
  };
  const fingerprint = ingestFingerprint(contentHash(text), {
    mediaType: fields.mediaType,
    title: fields.title,
    metadata: fields.metadata,
    chunking: resolveChunkOptions(fields.chunking),
  });
  return { ...fields, contentHash: fingerprint };
}

/** What the job runner hands a handler, for one attempt of job `jobId`. */
function attempt(jobId: string): JobContext {
  return {
    jobId,
    tenant: 't1',
    signal: new AbortController().signal,
    logger: pino({ level: 'silent' }),
    progress: () => undefined,
    throwIfCancelled: () => Promise.resolve(),
    step: (_name, fn) => Promise.resolve(fn()),
  };
}

describe('ingest handler retries', () => {
  it('returns the version an earlier attempt of the job wrote, instead of writing it again', async () => {
    const jobId = 'ing-retry';
    await putPayload(redis, keys.payload('t1', jobId), text);
    const first = await ingest(payload(), attempt(jobId));
    expect(first).toMatchObject({ documentId: 'log', version: 1 });

    // The attempt wrote the document but its completion was lost (Redis restarted, the worker
    // died): the queue runs the job again. Its body is gone, its version is not.
    expect(await ingest(payload(), attempt(jobId))).toEqual(first);
    // The same when the body was still there.
    await putPayload(redis, keys.payload('t1', jobId), text);
    expect(await ingest(payload(), attempt(jobId))).toEqual(first);
    expect(await redis.exists(keys.payload('t1', jobId))).toBe(0);
    expect((await store.getDocument('t1', 'default', 'log'))?.version).toBe(1);
  });

  it('still writes a new version when anything it stores differs', async () => {
    const jobId = 'ing-new-metadata';
    await putPayload(redis, keys.payload('t1', jobId), text);
    const out = await ingest(payload({ metadata: { port: 'south' } }), attempt(jobId));
    expect(out.version).toBe(2);
  });
});
