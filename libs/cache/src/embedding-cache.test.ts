import { describe, expect, it } from 'vitest';
import { createBuiltinEmbedder } from '@hopper/embeddings';
import { withEmbeddingCache, type Embedder } from './embedding-cache.ts';
import { useTestRedis } from '../../../test/support/test-redis.ts';

const { keys, redis } = useTestRedis();

/** The builtin embedder, counting the texts that reach it (the cache's misses). */
function countingEmbedder(): Embedder & { computed: string[] } {
  const builtin = createBuiltinEmbedder();
  const computed: string[] = [];
  return {
    model: builtin.model,
    dimensions: builtin.dimensions,
    computed,
    embed: (texts, options) => {
      computed.push(...texts);
      return builtin.embed(texts, options);
    },
  };
}

describe('withEmbeddingCache', () => {
  it('keeps each tenant its own entries: a text one tenant embedded is computed again for another', async () => {
    const provider = countingEmbedder();
    const space = `${provider.model}@tenants`;
    const cache = withEmbeddingCache(provider, {
      redis: redis(),
      keys,
      space,
      ttlSeconds: 60,
      timeoutMs: 1_000,
    });
    const text = 'the lighthouse keeper trims the wick at dusk';

    const [first] = await cache.embed('acme', [text]);
    const [again] = await cache.embed('acme', [text]);
    expect(provider.computed).toEqual([text]);
    expect(again).toEqual(first);

    // Another tenant misses, even for the same text, model and process, and fills its own entry.
    const [other] = await cache.embed('globex', [text]);
    expect(provider.computed).toEqual([text, text]);
    expect(other).toEqual(first);
    const stored = await redis().keys(`${keys.prefix}:*`);
    expect(stored.filter((key) => key.includes(space))).toHaveLength(2);

    // What one tenant's entry holds is never served to another: plant a vector under acme's key.
    const hash = stored.find((key) => key.includes('acme') && key.includes(space));
    expect(hash).toBeDefined();
    const planted = new Float32Array(first?.length ?? 0).fill(0.5);
    await redis().set(hash as string, Buffer.from(planted.buffer));
    expect((await cache.embed('acme', [text]))[0]).toEqual(planted);
    expect((await cache.embed('globex', [text]))[0]).toEqual(first);
    expect(provider.computed).toHaveLength(2);
  });

  it('does not let concurrent misses of two tenants share one computation', async () => {
    const provider = countingEmbedder();
    const cache = withEmbeddingCache(provider, {
      redis: redis(),
      keys,
      space: `${provider.model}@concurrent`,
      ttlSeconds: 60,
      timeoutMs: 1_000,
    });
    const text = 'two tenants ask for the same text at the same moment';
    await Promise.all([cache.embed('acme', [text]), cache.embed('globex', [text])]);
    expect(provider.computed).toEqual([text, text]);
    expect(cache.stats().misses).toBe(2);
  });
});
