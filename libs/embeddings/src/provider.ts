/**
 * Turns texts into vectors. Both the ingest worker (chunks) and the gateway (queries) embed through
 * this interface, so a corpus and its queries must always use providers with the same `model`.
 */
export interface EmbeddingProvider {
  /** Model id: stored with every vector and part of every cache key. */
  readonly model: string;
  /** Vector length when known before the first call (builtin always; openai when configured). */
  readonly dimensions: number | undefined;
  /**
   * Embeds texts in order; one Float32Array per text.
   * Honors `signal`: once it aborts, the promise rejects with the signal's reason.
   */
  embed(texts: readonly string[], options?: EmbedOptions): Promise<Float32Array[]>;
}

/** Per-call options for {@link EmbeddingProvider.embed}. */
export interface EmbedOptions {
  /** Cancels the call, including any pending retry. */
  signal?: AbortSignal;
}

/** Options for {@link EmbeddingError}. */
export interface EmbeddingErrorOptions {
  /** Whether the same request may succeed later (rate limit, server error, timeout, network). */
  retryable: boolean;
  /** HTTP status of the failed response, when there was one. */
  status?: number;
  cause?: unknown;
}

/**
 * An embedding call failed. The message is meant for a person (it names the endpoint and what to
 * check) and never contains the API key. `retryable` tells a job runner whether trying the whole
 * job again later is worthwhile: a wrong URL or a rejected key will not fix itself.
 */
export class EmbeddingError extends Error {
  override readonly name = 'EmbeddingError';
  readonly retryable: boolean;
  readonly status?: number;

  constructor(message: string, options: EmbeddingErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable;
    if (options.status !== undefined) this.status = options.status;
  }
}
