import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import {
  DEFAULT_COLLECTION,
  contentHash,
  createKeys,
  ingestFingerprint,
  ingestJobId,
} from '@hopper/contracts';
import { checkDocument, resolveChunkOptions } from '@hopper/documents';
import { JobRecords } from '@hopper/jobs';
import { connectModern, structured, type JobOut } from '../support/clients.ts';
import { paragraphsAbout } from '../support/fault-documents.ts';
import { redisOutageScenario } from '../support/redis-outage.ts';
import { TestStack } from '../support/stack.ts';

// A short outage (a Redis restart or failover): job locks (10 s) outlive it.
redisOutageScenario('after 3 s', 3_000);

/*
 * What an outage can leave behind: the gateway records a job, then queues it; if Redis goes away
 * between the two writes, the caller is told to try again, and the record says `queued` for a job
 * no queue holds. Trying again must run the ingest, not wait on that record.
 */
describe('an ingest whose job record was written but whose queue entry was not', () => {
  let stack: TestStack;
  let client: Client;
  let redis: Redis;

  beforeAll(async () => {
    stack = await TestStack.start({ redisUrl: inject('redisUrl') });
    client = await connectModern(stack.url);
    redis = new Redis(inject('redisUrl'));
  });

  afterAll(async () => {
    redis?.disconnect();
    await client?.close();
    await stack?.stop();
  });

  it('runs when submitted again', async () => {
    const content = paragraphsAbout('orphan', 3);
    // The job id the gateway derives: from the ingest's fingerprint (content, media type, title,
    // metadata, chunking).
    const fingerprint = ingestFingerprint(contentHash(content), {
      mediaType: checkDocument({ content }),
      metadata: {},
      chunking: resolveChunkOptions(),
    });
    const jobId = ingestJobId('local', DEFAULT_COLLECTION, 'orphan', fingerprint);
    // The gateway's first write, alone: what the interrupted submit left.
    await new JobRecords(redis, createKeys(stack.prefix)).create(
      'local',
      jobId,
      { kind: 'ingest', documentId: 'orphan', collection: DEFAULT_COLLECTION },
      { reset: true },
    );

    const out = structured<JobOut & { version: number }>(
      await client.callTool({ name: 'ingest_document', arguments: { content, documentId: 'orphan' } }),
    );
    expect(out).toMatchObject({ jobId, state: 'completed', version: 1 });
  });
});
