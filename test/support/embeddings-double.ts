import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBuiltinEmbedder } from '@hopper/embeddings';

/**
 * A fault the double plays instead of answering: an HTTP error with OpenAI's error body, or no
 * answer at all (the request hangs until the client gives up or the double stops).
 */
export type EmbeddingsFault = { kind: 'status'; status: number } | { kind: 'hang' };

/**
 * A stand-in for a remote OpenAI-compatible embeddings API (the one remote service that cannot run
 * here). It speaks the real wire format (`POST /v1/embeddings {model, input}` → `{data, model}`,
 * errors as `{error: {message, type, param, code}}`), computes real vectors with the built-in model
 * so search results stay meaningful, and can be made slow or faulty, so tests can catch a job
 * mid-flight or watch the provider fail.
 */
export class EmbeddingsDouble {
  delayMs = 0;
  requests = 0;
  /** When each request arrived (ms since the epoch), to see the client's backoff between retries. */
  readonly requestTimes: number[] = [];
  /** Every text the double was asked to embed, in order (to count what reached the "provider"). */
  readonly texts: string[] = [];
  readonly model = 'double-embedding-model';
  readonly #server: Server;
  readonly #embedder = createBuiltinEmbedder({ dimensions: 64 });
  #fault: EmbeddingsFault | undefined;
  #faultsLeft = 0;

  private constructor() {
    this.#server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => this.#answer(res, body));
    });
  }

  static async start(): Promise<EmbeddingsDouble> {
    const double = new EmbeddingsDouble();
    await new Promise<void>((resolve) => double.#server.listen(0, '127.0.0.1', resolve));
    return double;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/v1`;
  }

  /** Environment that points Hopper processes at this double. */
  get env(): Record<string, string> {
    return {
      HOPPER_EMBEDDINGS_PROVIDER: 'openai',
      HOPPER_EMBEDDINGS_URL: this.url,
      HOPPER_EMBEDDINGS_MODEL: this.model,
    };
  }

  /** Plays `fault` for the next `count` requests (all of them by default), then answers again. */
  failNext(fault: EmbeddingsFault, count = Number.POSITIVE_INFINITY): void {
    this.#fault = fault;
    this.#faultsLeft = count;
  }

  /** Answers every request again. */
  heal(): void {
    this.#fault = undefined;
    this.#faultsLeft = 0;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #answer(res: ServerResponse, body: string): void {
    this.requests += 1;
    this.requestTimes.push(Date.now());
    const { input } = JSON.parse(body) as { input: string[] };
    this.texts.push(...input);
    const fault = this.#takeFault();
    if (fault?.kind === 'hang') return; // held open: the client's timeout or the double's stop ends it
    setTimeout(() => {
      if (fault) {
        res
          .writeHead(fault.status, { 'content-type': 'application/json' })
          .end(JSON.stringify(errorBody(fault)));
        return;
      }
      void this.#embedder.embed(input).then((vectors) => {
        const payload = {
          object: 'list',
          model: this.model,
          data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: Array.from(v) })),
          usage: { prompt_tokens: 0, total_tokens: 0 },
        };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
      });
    }, this.delayMs);
  }

  #takeFault(): EmbeddingsFault | undefined {
    if (!this.#fault || this.#faultsLeft <= 0) return undefined;
    this.#faultsLeft -= 1;
    return this.#fault;
  }
}

/** The body OpenAI sends with an error status. */
function errorBody(fault: { status: number }) {
  const overloaded = fault.status === 503 || fault.status === 429;
  return {
    error: {
      message: overloaded
        ? 'The engine is currently overloaded, please try again later.'
        : 'The server had an error while processing your request. Sorry about that!',
      type: overloaded ? 'server_overloaded' : 'server_error',
      param: null,
      code: null,
    },
  };
}
