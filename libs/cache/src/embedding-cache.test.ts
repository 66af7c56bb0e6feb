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

describe('withEmbeddingCache single-flight', () => {
  it('sends a burst of identical misses to the provider once, lookups included', async () => {
    const provider = countingEmbedder();
    const cache = withEmbeddingCache(provider, {
      redis: redis(),
      keys,
      space: `${provider.model}@burst`,
      ttlSeconds: 60,
      timeoutMs: 1_000,
    });
    const text = 'fifty callers ask for the same new text';
    // Waves of callers, each wave sent a turn of the event loop after the last: some look the text
    // up while the first lookup is out, some while it is computed, some as it is being written.
    const calls: Promise<Float32Array[]>[] = [];
    for (let wave = 0; wave < 5; wave += 1) {
      for (let i = 0; i < 10; i += 1) calls.push(cache.embed('acme', [text, `${text} (${i % 2})`]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const answers = await Promise.all(calls);
    expect(provider.computed.filter((t) => t === text)).toHaveLength(1);
    expect(provider.computed.filter((t) => t === `${text} (0)`)).toHaveLength(1);
    for (const answer of answers) expect(answer[0]).toEqual(answers[0]![0]);
  });

  it('joins a call whose lookup is sent while the first call computes and answered after it finished', async () => {
    const builtin = createBuiltinEmbedder();
    const computed: string[] = [];
    const gate = Promise.withResolvers<void>();
    const provider: Embedder = {
      model: builtin.model,
      dimensions: builtin.dimensions,
      embed: async (texts, options) => {
        computed.push(...texts);
        await gate.promise;
        return builtin.embed(texts, options);
      },
    };
    const cache = withEmbeddingCache(provider, {
      redis: redis(),
      keys,
      space: `${provider.model}@race`,
      ttlSeconds: 60,
      timeoutMs: 1_000,
    });
    const text = 'a text asked for again while its first computation ends';
    const first = cache.embed('acme', [text]);
    while (computed.length === 0) await new Promise((resolve) => setImmediate(resolve));
    // The second call's lookup goes out now; the computation ends before its answer comes back,
    // and the first call's write goes out after it.
    const second = cache.embed('acme', [text]);
    gate.resolve();
    const [[a], [b]] = await Promise.all([first, second]);
    expect(computed).toEqual([text]);
    expect(b).toEqual(a);
  });

  it('lets the next call try again after a failed computation', async () => {
    const builtin = createBuiltinEmbedder();
    let failures = 1;
    const provider: Embedder = {
      model: builtin.model,
      dimensions: builtin.dimensions,
      embed: (texts, options) =>
        failures-- > 0 ? Promise.reject(new Error('provider down')) : builtin.embed(texts, options),
    };
    const cache = withEmbeddingCache(provider, {
      redis: redis(),
      keys,
      space: `${provider.model}@retry`,
      ttlSeconds: 60,
      timeoutMs: 1_000,
    });
    const text = 'a text whose first computation fails';
    const burst = await Promise.allSettled([cache.embed('acme', [text]), cache.embed('acme', [text])]);
    expect(burst.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    const [vector] = await cache.embed('acme', [text]);
    expect(vector).toEqual(builtin.embedOne(text));
  });
});
