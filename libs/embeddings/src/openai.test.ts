import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOpenAIEmbedder } from './openai.ts';
import type { OpenAIEmbedderOptions } from './openai.ts';
import { EmbeddingError } from './provider.ts';

interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: { model: string; input: string[]; dimensions?: number };
  receivedAt: number;
}

/** Answers one request; `count` is 1 for the first request the server sees. */
type Handler = (request: ReceivedRequest, response: ServerResponse, count: number) => void;

/** The vector the test server returns for a text, so tests can check which text got which vector. */
function vectorFor(text: string): number[] {
  return [text.length, text.charCodeAt(0), 0.5];
}

/** Answers like OpenAI, but lists the items in reverse so that only `index` gives the order. */
function answerEmbeddings(response: ServerResponse, input: string[], vector = vectorFor): void {
  const data = input.map((text, index) => ({ object: 'embedding', index, embedding: vector(text) }));
  sendJson(response, 200, {
    object: 'list',
    data: data.reverse(),
    model: 'test-model',
    usage: { prompt_tokens: 1, total_tokens: 1 },
  });
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

/**
 * A real HTTP server on 127.0.0.1 speaking the OpenAI embeddings wire format, standing in for the
 * remote service. Each test scripts its answers through `handle`.
 */
async function startEmbeddingsServer() {
  const requests: ReceivedRequest[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  let handle: Handler = (request, response) => answerEmbeddings(response, request.body.input);

  const server = createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const request: ReceivedRequest = {
        method: incoming.method ?? '',
        path: incoming.url ?? '',
        headers: incoming.headers,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as ReceivedRequest['body'],
        receivedAt: performance.now(),
      };
      requests.push(request);
      for (const waiter of waiters.filter((w) => requests.length >= w.count)) waiter.resolve();
      handle(request, response, requests.length);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    respondWith(handler: Handler) {
      handle = handler;
    },
    /** Resolves once the server has received `count` requests in total. */
    receivedRequests(count: number): Promise<void> {
      if (requests.length >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    async close() {
      // Tests leave requests hanging on purpose; drop them rather than wait.
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

type EmbeddingsServer = Awaited<ReturnType<typeof startEmbeddingsServer>>;

async function embeddingError(promise: Promise<unknown>): Promise<EmbeddingError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(EmbeddingError);
  return error as EmbeddingError;
}

describe('createOpenAIEmbedder', () => {
  let server: EmbeddingsServer;
  // Small delays keep the retry tests fast; the logic under test is the same at any scale.
  const fast = { retryBaseMs: 1, timeoutMs: 2_000 } satisfies Partial<OpenAIEmbedderOptions>;

  beforeEach(async () => {
    server = await startEmbeddingsServer();
  });

  afterEach(async () => {
    await server.close();
  });

  it('posts batches in sequence and returns vectors in input order', async () => {
    const embedder = createOpenAIEmbedder({ url: `${server.url}/`, model: 'nomic-embed-text', batchSize: 2 });
    const texts = ['alpha', 'bravo!', 'charlie', 'delta', 'echo echo'];

    const vectors = await embedder.embed(texts);

    expect(vectors.map((vector) => Array.from(vector))).toEqual(texts.map(vectorFor));
    expect(vectors[0]).toBeInstanceOf(Float32Array);
    expect(server.requests.map((request) => request.body.input)).toEqual([
      ['alpha', 'bravo!'],
      ['charlie', 'delta'],
      ['echo echo'],
    ]);
    for (const request of server.requests) {
      expect(request.method).toBe('POST');
      expect(request.path).toBe('/v1/embeddings');
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers.authorization).toBeUndefined();
      expect(request.body).toEqual({ model: 'nomic-embed-text', input: request.body.input });
    }
  });

  it('makes no request for an empty list', async () => {
    const embedder = createOpenAIEmbedder({ url: server.url, model: 'm' });
    await expect(embedder.embed([])).resolves.toEqual([]);
    expect(server.requests).toHaveLength(0);
  });

  it('sends the API key as a bearer token', async () => {
    const embedder = createOpenAIEmbedder({ url: server.url, model: 'm', apiKey: 'sk-test-123' });
    await embedder.embed(['hello']);
    expect(server.requests[0]?.headers.authorization).toBe('Bearer sk-test-123');
  });

  it('learns dimensions from the first response when none are configured', async () => {
    const embedder = createOpenAIEmbedder({ url: server.url, model: 'm' });
    expect(embedder.dimensions).toBeUndefined();
    await embedder.embed(['hello']);
    expect(embedder.dimensions).toBe(3);
  });

  it('requests configured dimensions and rejects vectors of another size', async () => {
    const embedder = createOpenAIEmbedder({
      url: server.url,
      model: 'text-embedding-3-small',
      dimensions: 3,
    });
    expect(embedder.dimensions).toBe(3);
    await embedder.embed(['hello']);
    expect(server.requests[0]?.body.dimensions).toBe(3);

    const wrongSize = createOpenAIEmbedder({
      url: server.url,
      model: 'text-embedding-3-small',
      dimensions: 8,
    });
    const error = await embeddingError(wrongSize.embed(['hello']));
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('returned 3-dimensional vectors but 8 were configured');
  });

  it('waits as long as Retry-After asks on 429, then succeeds', async () => {
    server.respondWith((request, response, count) => {
      if (count === 1) sendJson(response, 429, { error: { message: 'slow down' } }, { 'Retry-After': '1' });
      else answerEmbeddings(response, request.body.input);
    });
    const embedder = createOpenAIEmbedder({ url: server.url, model: 'm', ...fast });

    const vectors = await embedder.embed(['hello']);

    expect(Array.from(vectors[0] ?? [])).toEqual(vectorFor('hello'));
    expect(server.requests).toHaveLength(2);
    const [first, second] = server.requests;
    // The backoff alone would be about 1 ms; only the header explains a pause of a second.
    expect((second?.receivedAt ?? 0) - (first?.receivedAt ?? 0)).toBeGreaterThanOrEqual(950);
  });

  it('gives up after maxRetries on repeated 5xx with a retryable error', async () => {
    server.respondWith((_request, response) => sendJson(response, 503, { error: 'model is loading' }));
    const embedder = createOpenAIEmbedder({ url: server.url, model: 'm', maxRetries: 2, ...fast });

    const error = await embeddingError(embedder.embed(['hello']));

    expect(server.requests).toHaveLength(3);
    expect(error.retryable).toBe(true);
    expect(error.status).toBe(503);
    expect(error.message).toContain(`${server.url}/embeddings returned HTTP 503`);
    expect(error.message).toContain('model is loading');
    expect(error.message).toContain('gave up after 3 attempts');
  });

  it('does not retry a rejected API key and never reveals it', async () => {
    const apiKey = 'sk-secret-abcdef';
    server.respondWith((_request, response) =>
      sendJson(response, 401, { error: { message: `Incorrect API key provided: ${apiKey}` } }),
    );
    const embedder = createOpenAIEmbedder({ url: server.url, model: 'm', apiKey, ...fast });

    const error = await embeddingError(embedder.embed(['hello']));

    expect(server.requests).toHaveLength(1);
    expect(error.retryable).toBe(false);
    expect(error.status).toBe(401);
    expect(error.message).toContain('HOPPER_EMBEDDINGS_API_KEY');
    expect(error.message).toContain('Incorrect API key provided');
    expect(error.message).not.toContain(apiKey);
  });

  it('points at the URL and model on 404', async () => {
    server.respondWith((_request, response) => sendJson(response, 404, { error: 'model "nomic" not found' }));
    const embedder = createOpenAIEmbedder({ url: server.url, model: 'nomic', ...fast });

    const error = await embeddingError(embedder.embed(['hello']));

    expect(server.requests).toHaveLength(1);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('HOPPER_EMBEDDINGS_URL');
    expect(error.message).toContain('"nomic"');
  });

  it('does not retry other client errors', async () => {
    server.respondWith((_request, response) => sendJson(response, 400, { error: 'input too long' }));
    const embedder = createOpenAIEmbedder({ url: server.url, model: 'm', ...fast });

    const error = await embeddingError(embedder.embed(['hello']));

    expect(server.requests).toHaveLength(1);
    expect(error).toMatchObject({ retryable: false, status: 400 });
    expect(error.message).toContain('input too long');
  });

  it('rejects a response with the wrong number of vectors', async () => {
    server.respondWith((request, response) => answerEmbeddings(response, request.body.input.slice(1)));
    const embedder = createOpenAIEmbedder({ url: server.url, model: 'm', ...fast });

    const error = await embeddingError(embedder.embed(['a', 'b', 'c', 'd']));

    expect(error.retryable).toBe(false);
    expect(error.message).toBe(`embeddings endpoint ${server.url}/embeddings returned 3 vectors for 4 texts`);
  });

  it('rejects vectors of different lengths', async () => {
    server.respondWith((request, response) =>
      answerEmbeddings(response, request.body.input, (text) => (text === 'b' ? [1, 2] : [1, 2, 3])),
    );
    const embedder = createOpenAIEmbedder({ url: server.url, model: 'm', ...fast });

    const error = await embeddingError(embedder.embed(['a', 'b']));

    expect(error.retryable).toBe(false);
    expect(error.message).toContain('vectors of different lengths');
  });

  it('rejects repeated indices', async () => {
    server.respondWith((_request, response) =>
      sendJson(response, 200, {
        data: [
          { index: 0, embedding: [1] },
          { index: 0, embedding: [2] },
        ],
      }),
    );
    const embedder = createOpenAIEmbedder({ url: server.url, model: 'm', ...fast });

    const error = await embeddingError(embedder.embed(['a', 'b']));

    expect(error.message).toContain('repeated index 0');
  });

  it('rejects a body that is not JSON, quoting it', async () => {
    server.respondWith((_request, response) => {
      response.writeHead(200, { 'Content-Type': 'text/html' });
      response.end('<html><body>Welcome to nginx!</body></html>');
    });
    const embedder = createOpenAIEmbedder({ url: server.url, model: 'm', ...fast });

    const error = await embeddingError(embedder.embed(['hello']));

    expect(error.retryable).toBe(false);
    expect(error.message).toContain('not JSON');
    expect(error.message).toContain('Welcome to nginx!');
  });

  it('rejects JSON in another format, naming the field', async () => {
    server.respondWith((_request, response) =>
      sendJson(response, 200, { data: [{ index: 0, embedding: 'AAAA' }] }),
    );
    const embedder = createOpenAIEmbedder({ url: server.url, model: 'm', ...fast });

    const error = await embeddingError(embedder.embed(['hello']));

    expect(error.retryable).toBe(false);
    expect(error.message).toContain('not in the OpenAI embeddings format');
    expect(error.message).toContain('data.0.embedding');
  });

  it('retries a request that times out', async () => {
    server.respondWith((request, response, count) => {
      // The first request never gets an answer.
      if (count > 1) answerEmbeddings(response, request.body.input);
    });
    const embedder = createOpenAIEmbedder({ url: server.url, model: 'm', retryBaseMs: 1, timeoutMs: 200 });

    const vectors = await embedder.embed(['hello']);

    expect(Array.from(vectors[0] ?? [])).toEqual(vectorFor('hello'));
    expect(server.requests).toHaveLength(2);
  });

  it('reports a timeout once retries are exhausted', async () => {
    server.respondWith(() => {});
    const embedder = createOpenAIEmbedder({
      url: server.url,
      model: 'm',
      retryBaseMs: 1,
      timeoutMs: 100,
      maxRetries: 1,
    });

    const error = await embeddingError(embedder.embed(['hello']));

    expect(server.requests).toHaveLength(2);
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('did not answer within 100 ms');
  });

  it('reports an unreachable server as retryable', async () => {
    const { url } = server;
    await server.close();
    server = await startEmbeddingsServer();
    const embedder = createOpenAIEmbedder({ url, model: 'm', maxRetries: 1, ...fast });

    const error = await embeddingError(embedder.embed(['hello']));

    expect(error.retryable).toBe(true);
    expect(error.message).toContain('could not reach embeddings endpoint');
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('stops at once when the caller aborts a request in flight', { timeout: 5_000 }, async () => {
    server.respondWith(() => {});
    const embedder = createOpenAIEmbedder({ url: server.url, model: 'm', timeoutMs: 30_000 });
    const controller = new AbortController();
    const reason = new Error('job cancelled');

    const result = embedder.embed(['hello'], { signal: controller.signal });
    await server.receivedRequests(1);
    controller.abort(reason);

    await expect(result).rejects.toBe(reason);
    expect(server.requests).toHaveLength(1);
  });

  it('stops at once when the caller aborts during backoff', { timeout: 5_000 }, async () => {
    server.respondWith((_request, response) => sendJson(response, 500, { error: 'boom' }));
    const { promise: firstAnswerRead, resolve } = Promise.withResolvers<void>();
    const embedder = createOpenAIEmbedder({
      url: server.url,
      model: 'm',
      retryBaseMs: 60_000,
      // Buffers the body before handing the response over, so the test knows when the embedder
      // holds the 500 and is about to back off.
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        const body = await response.arrayBuffer();
        resolve();
        return new Response(body, response);
      },
    });
    const controller = new AbortController();
    const reason = new Error('job cancelled');

    const result = embedder.embed(['hello'], { signal: controller.signal });
    await firstAnswerRead;
    await new Promise(setImmediate);
    controller.abort(reason);

    await expect(result).rejects.toBe(reason);
    expect(server.requests).toHaveLength(1);
  });

  it('rejects without a request when the signal is already aborted', async () => {
    const embedder = createOpenAIEmbedder({ url: server.url, model: 'm' });
    const reason = new Error('too late');

    await expect(embedder.embed(['hello'], { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(server.requests).toHaveLength(0);
  });

  it('rejects invalid options when created', () => {
    expect(() => createOpenAIEmbedder({ url: 'not a url', model: 'm' })).toThrow(TypeError);
    expect(() => createOpenAIEmbedder({ url: server.url, model: 'm', batchSize: 0 })).toThrow(RangeError);
  });
});
