/**
 * Bytes of document bodies a worker's ingest jobs hold at once. A running job holds its body, then
 * its chunks and their vectors until its group commit; what bounds the worker's memory is those
 * bytes, not the number of jobs. Small documents (most of an import) need many jobs running for
 * their commits to group, so the job count is set high and this budget is the limit.
 *
 * Holders are served in arrival order: a large body is not passed over for ever by small ones. A
 * body larger than the whole budget runs alone rather than never.
 */
export class ByteBudget {
  readonly #capacity: number;
  #used = 0;
  readonly #waiting: { bytes: number; grant: () => void }[] = [];

  constructor(capacity: number) {
    if (!(capacity > 0)) throw new RangeError(`a byte budget needs a positive capacity, not ${capacity}`);
    this.#capacity = capacity;
  }

  /** Bytes held now. */
  get used(): number {
    return this.#used;
  }

  /**
   * Runs `task` once `bytes` fit (or the budget is empty), and gives them back when it ends. An
   * abort while waiting rejects with the signal's reason and takes nothing.
   */
  async run<T>(bytes: number, task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const held = Math.max(0, bytes);
    await this.#acquire(held, signal);
    try {
      return await task();
    } finally {
      this.#used -= held;
      this.#grantWaiting();
    }
  }

  #fits(bytes: number): boolean {
    return this.#used === 0 || this.#used + bytes <= this.#capacity;
  }

  async #acquire(bytes: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.#waiting.length === 0 && this.#fits(bytes)) {
      this.#used += bytes;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const entry = {
        bytes,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const at = this.#waiting.indexOf(entry);
        if (at >= 0) this.#waiting.splice(at, 1);
        // The head of the line may have been waiting behind this one.
        this.#grantWaiting();
        reject(
          signal?.reason instanceof Error ? signal.reason : new Error('aborted while waiting for memory'),
        );
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(entry);
    });
  }

  #grantWaiting(): void {
    for (;;) {
      const next = this.#waiting[0];
      if (!next || !this.#fits(next.bytes)) return;
      this.#waiting.shift();
      this.#used += next.bytes;
      next.grant();
    }
  }
}
