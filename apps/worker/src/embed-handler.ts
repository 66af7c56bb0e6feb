import { UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Keys } from '@hopper/contracts';
import type { TenantEmbedder } from '@hopper/cache';
import {
  deletePayload,
  getPayload,
  packVectors,
  putPayload,
  unpackTexts,
  type JobHandler,
} from '@hopper/jobs';

export interface EmbedDeps {
  redis: Redis;
  keys: Keys;
  embedder: TenantEmbedder;
  batchSize: number;
}

/** Large `embed_texts` calls: texts in from a payload key, float32 vectors out to another. */
export function createEmbedHandler(deps: EmbedDeps): JobHandler<'embed'> {
  return async (payload, context) => {
    const inputKey = deps.keys.payload(payload.tenant, context.jobId);
    const body = await getPayload(deps.redis, inputKey);
    if (!body) throw new UnrecoverableError('the texts expired before the job ran; send them again');
    const texts = unpackTexts(body);
    const vectors: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += deps.batchSize) {
      await context.throwIfCancelled();
      const batch = texts.slice(start, start + deps.batchSize);
      vectors.push(...(await deps.embedder.embed(payload.tenant, batch, { signal: context.signal })));
      context.progress({
        progress: vectors.length / texts.length,
        stage: 'embedding',
        current: vectors.length,
        total: texts.length,
      });
    }
    await putPayload(deps.redis, deps.keys.embedOutput(payload.tenant, context.jobId), packVectors(vectors));
    await deletePayload(deps.redis, inputKey);
    return { model: deps.embedder.model, dimensions: vectors[0]?.length ?? 0, count: vectors.length };
  };
}
