import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBuiltinEmbedder } from '@hopper/embeddings';

/**
 * A stand-in for a remote OpenAI-compatible embeddings API (the one remote service that cannot run
 * here). It speaks the real wire format (`POST /v1/embeddings {model, input}` → `{data, model}`),
 * computes real vectors with the built-in model so search results stay meaningful, and can be made
 * slow, so tests can catch a job mid-flight.
 */
export class EmbeddingsDouble {
  delayMs = 0;
  requests = 0;
  /** Every text the double was asked to embed, in order (to count what reached the "provider"). */
  readonly texts: string[] = [];
  readonly model = 'double-embedding-model';
  readonly #server: Server;
  readonly #embedder = createBuiltinEmbedder({ dimensions: 64 });

  private constructor() {
    this.#server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        this.requests += 1;
        const { input } = JSON.parse(body) as { input: string[] };
        this.texts.push(...input);
        setTimeout(() => {
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
      });
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

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
