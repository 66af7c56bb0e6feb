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

  it('sends a burst of identical embed_texts misses to the provider once', async () => {
    const text = 'a burst of callers all ask for this one new sentence';
    embeddings.delayMs = 30;
    try {
      // Waves of callers a few milliseconds apart: some look the text up before the first caller's
      // request reaches the provider, some while it computes, some as its answer is being stored.
      const calls: Promise<unknown>[] = [];
      for (let wave = 0; wave < 8; wave += 1) {
        for (let i = 0; i < 5; i += 1) {
          calls.push(client.callTool({ name: 'embed_texts', arguments: { texts: [text] } }));
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const answers = (await Promise.all(calls)).map(
        (answer) => structured<{ embeddings: number[][] }>(answer).embeddings[0],
      );
      expect(embeddings.texts.filter((t) => t === text)).toHaveLength(1);
      for (const answer of answers) expect(answer).toEqual(answers[0]);
    } finally {
      embeddings.delayMs = 0;
    }
  });
});
