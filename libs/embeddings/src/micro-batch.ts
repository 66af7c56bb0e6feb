import type { EmbeddingProvider, EmbedOptions } from './provider.ts';

/** Options for {@link withMicroBatching}. */
export interface MicroBatchOptions {
  /**
   * How long the first call of a batch waits for others to join it. 0 gathers only the calls made
   * in the same turn of the event loop. A remote provider's round trip is tens of milliseconds, so
   * a wait of a millisecond or two costs little and, under load, saves most of the round trips.
   */
  windowMs: number;
  /** A batch is sent as soon as it holds this many texts, without waiting out the window. */
  maxTexts: number;
}

interface Waiter {
  texts: readonly string[];
  resolve: (vectors: Float32Array[]) => void;
  reject: (error: unknown) => void;
}

/**
 * Wraps a remote provider so that concurrent small `embed` calls (a gateway's query embeddings and
 * small `embed_texts` batches) share one provider request. Each caller still gets its own vectors
 * in its own order, and its own abort: a caller that gives up stops waiting, while the batch goes
 * on for the others. If a shared request fails, each caller's texts are tried again on their own,
 * so one caller's bad text cannot fail the calls that happened to share its batch.
 */
export function withMicroBatching(
  provider: EmbeddingProvider,
  options: MicroBatchOptions,
): EmbeddingProvider {
  let pending: Waiter[] = [];
  let pendingTexts = 0;
  let timer: NodeJS.Timeout | undefined;

  const flush = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const batch = pending;
    pending = [];
    pendingTexts = 0;
    if (batch.length > 0) void send(batch);
  };

  const send = async (batch: Waiter[]): Promise<void> => {
    if (batch.length === 1) {
      const [only] = batch as [Waiter];
      await provider.embed(only.texts).then(only.resolve, only.reject);
      return;
    }
    // Identical texts in one batch (a burst of the same query) are embedded once.
    const unique = [...new Set(batch.flatMap((waiter) => waiter.texts))];
    let vectors: Float32Array[];
    try {
      vectors = await provider.embed(unique);
    } catch {
      await Promise.all(
        batch.map((waiter) => provider.embed(waiter.texts).then(waiter.resolve, waiter.reject)),
      );
      return;
    }
    const byText = new Map(unique.map((text, index) => [text, vectors[index] as Float32Array]));
    for (const waiter of batch) waiter.resolve(waiter.texts.map((text) => byText.get(text) as Float32Array));
  };

  return {
    model: provider.model,
    get dimensions() {
      return provider.dimensions;
    },
    embed(texts: readonly string[], embedOptions?: EmbedOptions): Promise<Float32Array[]> {
      const signal = embedOptions?.signal;
      if (texts.length === 0) return Promise.resolve([]);
      // A large call gains nothing from company and would only delay the small ones.
      if (texts.length >= options.maxTexts) return provider.embed(texts, embedOptions);
      signal?.throwIfAborted();
      return new Promise<Float32Array[]>((resolve, reject) => {
        const onAbort = (): void => {
          const reason: unknown = signal?.reason;
          reject(reason instanceof Error ? reason : new Error('the embedding call was aborted'));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        const settle =
          <T>(done: (value: T) => void) =>
          (value: T) => {
            signal?.removeEventListener('abort', onAbort);
            done(value);
          };
        if (pendingTexts + texts.length > options.maxTexts) flush();
        pending.push({ texts, resolve: settle(resolve), reject: settle(reject) });
        pendingTexts += texts.length;
        if (pendingTexts >= options.maxTexts) flush();
        else if (!timer) {
          timer = setTimeout(flush, options.windowMs);
        }
      });
    },
  };
}
