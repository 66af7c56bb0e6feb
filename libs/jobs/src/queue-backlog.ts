import type { Queue } from 'bullmq';

/** How long a count of waiting jobs is reused: admission needs a fresh-enough figure, not an exact one. */
const MAX_AGE_MS = 250;

/**
 * The number of jobs waiting in a queue (waiting and prioritized: not yet taken by a worker), read
 * from Redis at most every 250 ms and shared by every caller in between, so a burst of submissions
 * costs one count. Between two reads the figure can lag by the jobs submitted meanwhile.
 */
export class QueueBacklog {
  readonly #queue: Queue;
  #count = 0;
  #readAt = -Infinity;
  #reading: Promise<number> | undefined;

  constructor(queue: Queue) {
    this.#queue = queue;
  }

  waiting(): Promise<number> {
    if (performance.now() - this.#readAt < MAX_AGE_MS) return Promise.resolve(this.#count);
    this.#reading ??= this.#read().finally(() => (this.#reading = undefined));
    return this.#reading;
  }

  async #read(): Promise<number> {
    const counts = await this.#queue.getJobCounts('waiting', 'prioritized');
    this.#count = (counts.waiting ?? 0) + (counts.prioritized ?? 0);
    this.#readAt = performance.now();
    return this.#count;
  }
}
