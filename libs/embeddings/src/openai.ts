import { z } from 'zod';
import { EmbeddingError } from './provider.ts';
import type { EmbeddingProvider, EmbedOptions } from './provider.ts';

/** Options for {@link createOpenAIEmbedder}. */
export interface OpenAIEmbedderOptions {
  /** Base URL of an OpenAI-compatible API, e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1`. */
  url: string;
  /** Model name sent with every request; also the provider's `model` id. */
  model: string;
  /** Sent as `Authorization: Bearer <apiKey>`. Local servers usually need none. */
  apiKey?: string;
  /** Requested vector length (sent as `dimensions`); responses of any other length are rejected. */
  dimensions?: number;
  /** Texts per request. Default 64. */
  batchSize?: number;
  /** Per-request timeout, covering the response body too. Default 30 s. */
  timeoutMs?: number;
  /** Retries per request after the first attempt, for transient failures only. Default 3. */
  maxRetries?: number;
  /** First backoff delay; each retry doubles it, with jitter. Default 250 ms. */
  retryBaseMs?: number;
  /** The fetch to use; defaults to the global one. */
  fetch?: typeof globalThis.fetch;
}

// A server asking for a longer pause than this is effectively down; waiting longer would only hold
// a worker slot while the job could be retried later by the queue.
const MAX_RETRY_AFTER_MS = 30_000;
const BODY_SNIPPET_CHARS = 200;

const responseSchema = z.object({
  data: z.array(
    z.object({
      // zod 4 rejects NaN and ±Infinity in z.number(), so every accepted component is finite.
      embedding: z.array(z.number()),
      // OpenAI always sends `index`; a few older compatible servers omit it and rely on order.
      index: z.number().int().nonnegative().optional(),
    }),
  ),
});

type Attempt =
  { ok: true; vectors: Float32Array[] } | { ok: false; error: EmbeddingError; retryAfterMs?: number };

/**
 * Creates a provider for any server speaking the OpenAI embeddings API (OpenAI, Ollama, vLLM,
 * TEI, LM Studio). Texts are sent in sequential batches; transient failures (network, timeout,
 * 408, 429, 5xx) are retried with exponential backoff, honouring `Retry-After`. Everything else
 * fails at once with an {@link EmbeddingError} that says what to fix.
 */
export function createOpenAIEmbedder(options: OpenAIEmbedderOptions): EmbeddingProvider {
  const {
    model,
    apiKey,
    dimensions: configuredDimensions,
    batchSize = 64,
    timeoutMs = 30_000,
    maxRetries = 3,
    retryBaseMs = 250,
    fetch = globalThis.fetch,
  } = options;
  const endpoint = `${options.url.replace(/\/+$/, '')}/embeddings`;
  const shownEndpoint = redactUrl(endpoint);
  if (!URL.canParse(endpoint)) throw new TypeError(`embeddings url is not a valid URL: ${shownEndpoint}`);
  requirePositiveInteger('batchSize', batchSize);
  requirePositiveInteger('timeoutMs', timeoutMs);
  requireNonNegativeInteger('maxRetries', maxRetries);
  requireNonNegativeInteger('retryBaseMs', retryBaseMs);
  if (configuredDimensions !== undefined) requirePositiveInteger('dimensions', configuredDimensions);

  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (apiKey) headers['Authorization'] = `Bearer ${apiKey}`;
  let learnedDimensions: number | undefined;

  /** Keeps any echo of the key out of messages; some proxies quote the credential they rejected. */
  function redact(text: string): string {
    return apiKey ? text.replaceAll(apiKey, '[redacted]') : text;
  }

  function fail(message: string, retryable: boolean, status?: number, cause?: unknown): EmbeddingError {
    return new EmbeddingError(redact(message), { retryable, status, cause });
  }

  async function attempt(texts: readonly string[], signal: AbortSignal | undefined): Promise<Attempt> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const requestSignal = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const body: { model: string; input: readonly string[]; dimensions?: number } = { model, input: texts };
    if (configuredDimensions !== undefined) body.dimensions = configuredDimensions;

    let status: number;
    let text: string;
    let response: Response;
    try {
      response = await fetch(endpoint, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: requestSignal,
      });
      status = response.status;
      // Read as text first: a proxy's HTML error page must still produce a readable message.
      text = await response.text();
    } catch (error) {
      // The caller's abort wins over everything else and is never retried.
      signal?.throwIfAborted();
      if (timeout.aborted) {
        return {
          ok: false,
          error: fail(`embeddings endpoint ${shownEndpoint} did not answer within ${timeoutMs} ms`, true),
        };
      }
      return {
        ok: false,
        error: fail(
          `could not reach embeddings endpoint ${shownEndpoint}: ${describeNetworkError(error)}; ` +
            'check HOPPER_EMBEDDINGS_URL and that the server is running',
          true,
          undefined,
          error,
        ),
      };
    }

    if (!response.ok) {
      const retryable = status === 408 || status === 429 || status >= 500;
      const error = fail(`${statusMessage(status)}: ${snippet(text)}`, retryable, status);
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
      return retryAfterMs === undefined ? { ok: false, error } : { ok: false, error, retryAfterMs };
    }
    return { ok: true, vectors: parseVectors(text, texts.length) };
  }

  function statusMessage(status: number): string {
    const prefix = `embeddings endpoint ${shownEndpoint} returned HTTP ${status}`;
    if (status === 401 || status === 403) {
      return apiKey
        ? `${prefix}: the API key was rejected; check HOPPER_EMBEDDINGS_API_KEY`
        : `${prefix}: no API key was sent; set HOPPER_EMBEDDINGS_API_KEY`;
    }
    if (status === 404) {
      return (
        `${prefix}: check HOPPER_EMBEDDINGS_URL (most servers expect it to end in /v1) ` +
        `and that the server serves the model "${model}"`
      );
    }
    if (status === 429) return `${prefix}: rate limited`;
    if (status >= 500) return `${prefix}: server error`;
    return prefix;
  }

  function parseVectors(text: string, expected: number): Float32Array[] {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw fail(
        `embeddings endpoint ${shownEndpoint} returned a body that is not JSON: ${snippet(text)}`,
        false,
        undefined,
        error,
      );
    }
    const parsed = responseSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
      throw fail(
        `embeddings endpoint ${shownEndpoint} returned a response that is not in the OpenAI embeddings ` +
          `format (${where}${issue?.message ?? 'invalid'}): ${snippet(text)}`,
        false,
      );
    }
    const { data } = parsed.data;
    if (data.length !== expected) {
      throw fail(
        `embeddings endpoint ${shownEndpoint} returned ${data.length} vectors for ${expected} texts`,
        false,
      );
    }

    const vectors = new Array<Float32Array | undefined>(expected);
    const length = data[0]?.embedding.length ?? 0;
    for (const [position, item] of data.entries()) {
      const index = item.index ?? position;
      if (index >= expected || vectors[index] !== undefined) {
        throw fail(
          `embeddings endpoint ${shownEndpoint} returned an invalid or repeated index ${index} for ${expected} texts`,
          false,
        );
      }
      if (item.embedding.length !== length) {
        throw fail(
          `embeddings endpoint ${shownEndpoint} returned vectors of different lengths ` +
            `(${length} and ${item.embedding.length}) in one response`,
          false,
        );
      }
      vectors[index] = Float32Array.from(item.embedding);
    }
    checkDimensions(length);
    // Every slot is filled: there are exactly `expected` items with distinct indices below `expected`.
    return vectors as Float32Array[];
  }

  function checkDimensions(length: number): void {
    if (length === 0) {
      throw fail(`embeddings endpoint ${shownEndpoint} returned empty vectors for model "${model}"`, false);
    }
    if (configuredDimensions !== undefined && length !== configuredDimensions) {
      throw fail(
        `embeddings endpoint ${shownEndpoint} returned ${length}-dimensional vectors but ` +
          `${configuredDimensions} were configured; check that model "${model}" supports that size`,
        false,
      );
    }
    if (learnedDimensions !== undefined && length !== learnedDimensions) {
      throw fail(
        `embeddings endpoint ${shownEndpoint} returned ${length}-dimensional vectors after earlier ` +
          `${learnedDimensions}-dimensional ones; is a load balancer serving different models?`,
        false,
      );
    }
    learnedDimensions = length;
  }

  async function embedBatch(
    texts: readonly string[],
    signal: AbortSignal | undefined,
  ): Promise<Float32Array[]> {
    for (let retry = 0; ; retry++) {
      const result = await attempt(texts, signal);
      if (result.ok) return result.vectors;
      const { error } = result;
      if (!error.retryable) throw error;
      if (retry >= maxRetries) {
        throw new EmbeddingError(`${error.message} (gave up after ${retry + 1} attempts)`, {
          retryable: true,
          status: error.status,
          cause: error,
        });
      }
      await sleep(result.retryAfterMs ?? backoff(retryBaseMs, retry), signal);
    }
  }

  return {
    model,
    get dimensions() {
      return configuredDimensions ?? learnedDimensions;
    },
    async embed(texts: readonly string[], embedOptions?: EmbedOptions): Promise<Float32Array[]> {
      const signal = embedOptions?.signal;
      signal?.throwIfAborted();
      const vectors: Float32Array[] = [];
      // Sequential on purpose: one worker should not hit a shared server with parallel bursts, and
      // rate limits are per key, so concurrency would mostly buy 429s.
      for (let start = 0; start < texts.length; start += batchSize) {
        vectors.push(...(await embedBatch(texts.slice(start, start + batchSize), signal)));
      }
      return vectors;
    },
  };
}

/** Exponential backoff with "equal jitter": half fixed, half random, so retrying workers spread out. */
function backoff(baseMs: number, retry: number): number {
  const ceiling = Math.min(baseMs * 2 ** retry, MAX_RETRY_AFTER_MS);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** `Retry-After` is either delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
function parseRetryAfter(header: string | null): number | undefined {
  if (header === null) return undefined;
  const trimmed = header.trim();
  let ms: number;
  if (/^\d+(?:\.\d+)?$/.test(trimmed)) {
    ms = Number(trimmed) * 1000;
  } else {
    const date = Date.parse(trimmed);
    if (Number.isNaN(date)) return undefined;
    ms = date - Date.now();
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/** Waits, but rejects with the signal's reason as soon as the caller aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat === '') return '(empty body)';
  return flat.length > BODY_SNIPPET_CHARS ? `${flat.slice(0, BODY_SNIPPET_CHARS)}…` : flat;
}

/** fetch reports "fetch failed"; the useful part (ECONNREFUSED, ENOTFOUND) is in its cause. */
function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause: unknown = error.cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' ? `${code} (${cause.message})` : cause.message;
  }
  return error.message;
}

/** Drops credentials embedded in the URL (`https://user:pass@host`) before it appears in a message. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username === '' && parsed.password === '') return url;
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url;
  }
}

function requirePositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
}

function requireNonNegativeInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
}
