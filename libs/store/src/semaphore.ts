/**
 * At most `limit` holders at once; the rest wait in arrival order. Bounds how many searches the
 * engine runs at a time: each one holds its scan buffers until it ends, so an unbounded burst
 * multiplies memory (200 concurrent scans of 100k vectors exhausted 24 GB) without adding
 * throughput, since the engine already spreads one query over every core.
 */
export class Semaphore {
  readonly #limit: number;
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#limit) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#active++;
    }
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter, or give it back.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    }
  }
}
