import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withMicroBatching } from './micro-batch.ts';
import { createOpenAIEmbedder } from './openai.ts';
import type { EmbeddingProvider } from './provider.ts';

/** The vector the server returns for a text, so a test can tell whose vector a caller got. */
const vectorFor = (text: string): number[] => [text.length, text.charCodeAt(0)];

let server: Server;
let requests: string[][];
let provider: EmbeddingProvider;

/** An OpenAI-compatible server that refuses any request containing the text "poison". */
beforeEach(async () => {
  requests = [];
  server = createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const { input } = JSON.parse(Buffer.concat(chunks).toString()) as { input: string[] };
      requests.push(input);
      response.setHeader('Content-Type', 'application/json');
      if (input.includes('poison')) {
        response.writeHead(400).end(JSON.stringify({ error: { message: 'input rejected' } }));
        return;
      }
      const data = input.map((text, index) => ({ object: 'embedding', index, embedding: vectorFor(text) }));
      response.end(JSON.stringify({ object: 'list', data, model: 'm' }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const remote = createOpenAIEmbedder({ url: `http://127.0.0.1:${port}/v1`, model: 'm', maxRetries: 0 });
  provider = withMicroBatching(remote, { windowMs: 5, maxTexts: 64 });
});

afterEach(async () => {
  server.close();
  await once(server, 'close');
});

const asArrays = (vectors: Float32Array[]) => vectors.map((vector) => [...vector]);

describe('withMicroBatching', () => {
  it('answers concurrent calls with one request, each caller with its own vectors', async () => {
    const calls = Array.from({ length: 12 }, (_, i) => [
      `query number ${i}`,
      i % 2 ? 'shared' : 'x'.repeat(i + 1),
    ]);
    const answers = await Promise.all(calls.map((texts) => provider.embed(texts)));
    expect(requests).toHaveLength(1);
    // Duplicates across callers are sent once.
    expect(requests[0]!.filter((text) => text === 'shared')).toHaveLength(1);
    answers.forEach((vectors, i) => expect(asArrays(vectors)).toEqual(calls[i]!.map(vectorFor)));
  });

  it('sends a full batch at once and starts another', async () => {
    const calls = Array.from({ length: 40 }, (_, i) => [`a${i}`, `b${i}`]);
    await Promise.all(calls.map((texts) => provider.embed(texts)));
    expect(requests.map((input) => input.length)).toEqual([64, 16]);
  });

  it('keeps one caller’s rejected text from failing the others', async () => {
    const [good, bad, alsoGood] = await Promise.allSettled([
      provider.embed(['fine']),
      provider.embed(['poison']),
      provider.embed(['also fine']),
    ]);
    expect(good).toMatchObject({ status: 'fulfilled', value: [Float32Array.from(vectorFor('fine'))] });
    expect(bad).toMatchObject({ status: 'rejected', reason: { name: 'EmbeddingError' } });
    expect(alsoGood.status).toBe('fulfilled');
  });

  it('lets a caller give up without cancelling the batch for the others', async () => {
    const controller = new AbortController();
    const leaving = provider.embed(['leaving'], { signal: controller.signal });
    const staying = provider.embed(['staying']);
    controller.abort(new Error('caller went away'));
    await expect(leaving).rejects.toThrow('caller went away');
    expect(asArrays(await staying)).toEqual([vectorFor('staying')]);
  });
});
