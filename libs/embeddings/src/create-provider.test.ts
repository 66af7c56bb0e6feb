import { describe, expect, it } from 'vitest';
import { createEmbeddingProvider } from './create-provider.ts';

describe('createEmbeddingProvider', () => {
  it('builds the builtin hashing embedder, 384 dimensions unless configured', async () => {
    const provider = createEmbeddingProvider({ provider: 'builtin' });
    expect(provider.model).toBe('hopper-hashing-v1-384');
    expect(provider.dimensions).toBe(384);
    const [vector] = await provider.embed(['lift and drag']);
    expect(vector).toHaveLength(384);

    expect(createEmbeddingProvider({ provider: 'builtin', dimensions: 1024 }).model).toBe(
      'hopper-hashing-v1-1024',
    );
  });

  it('builds an OpenAI-compatible provider without contacting it', () => {
    // Port 9 (discard) on localhost: nothing listens, and nothing must be sent before embed().
    const provider = createEmbeddingProvider({
      provider: 'openai',
      url: 'http://127.0.0.1:9/v1',
      model: 'text-embedding-3-small',
      dimensions: 512,
    });
    expect(provider.model).toBe('text-embedding-3-small');
    expect(provider.dimensions).toBe(512);
  });
});
