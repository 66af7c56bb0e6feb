import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { createBuiltinEmbedder } from '@hopper/embeddings';
import { connectModern, structured } from '../support/clients.ts';
import { EmbeddingsDouble } from '../support/embeddings-double.ts';
import { TestStack } from '../support/stack.ts';

describe('query embeddings against a remote provider', () => {
  let stack: TestStack;
  let embeddings: EmbeddingsDouble;
  let client: Client;

  beforeAll(async () => {
    embeddings = await EmbeddingsDouble.start();
    stack = await TestStack.start({
      redisUrl: inject('redisUrl'),
      workers: 0,
      env: { ...embeddings.env, HOPPER_EMBEDDINGS_BATCH_WINDOW_MS: '50' },
    });
    client = await connectModern(stack.gateways[0]!.url);
  });

  afterAll(async () => {
    await client?.close();
    await stack?.stop();
    await embeddings?.stop();
  });

  it('shares provider requests between concurrent calls, each getting its own vectors', async () => {
    const texts = Array.from({ length: 16 }, (_, i) => `a sentence about topic number ${i}`);
    const before = embeddings.requests;
    const answers = await Promise.all(
      texts.map(async (text) =>
        structured<{ embeddings: number[][] }>(
          await client.callTool({ name: 'embed_texts', arguments: { texts: [text] } }),
        ),
      ),
    );
    expect(embeddings.requests - before).toBeLessThan(texts.length / 2);
    // Each caller got the vector of its own text, as the provider computes it.
    const reference = createBuiltinEmbedder({ dimensions: 64 });
    for (const [i, text] of texts.entries()) {
      const expected = [...reference.embedOne(text)];
      const got = answers[i]!.embeddings[0]!;
      expect(Math.max(...got.map((x, j) => Math.abs(x - expected[j]!)))).toBeLessThan(1e-6);
    }
  });
});
