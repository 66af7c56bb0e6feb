import { busy } from '@hopper/contracts';

/** How many path ingests one gateway reads at once, and how many may wait for a turn. */
export interface PathReadLimits {
  /** Files read at once (0: no cap). Each may hold a file of up to 32 MiB, plus its copies. */
  maxConcurrent: number;
  /** Path ingests waiting for a turn beyond which new ones are answered `busy` (0: no bound). */
  maxQueued: number;
}

/**
 * When a caller turned away by a full queue is told to retry: a turn takes a file read and hashed
 * twice at disk speed plus its enqueue, well under a second for 32 MiB, so a full queue clears in
 * a few seconds.
 */
const RETRY_AFTER_SECONDS = 2;

/**
 * A counting semaphore for `ingest_document {path}`. A path ingest costs the gateway the whole file
 * (read, checked, sent to Redis), while its request is a few bytes: without a cap, 60 concurrent
 * ingests of one 30 MiB file took a gateway to 2.2 GB. Holding at most `maxConcurrent` at once
 * bounds that memory; a bounded queue keeps waiting callers from piling up without end.
 */
export class PathReads {
  readonly #limits: PathReadLimits;
  readonly #onRefused: () => void;
  readonly #waiting: (() => void)[] = [];
  #running = 0;

  /** `onRefused` counts each `busy` answer (the gateway's hopper_limit_refusals_total). */
  constructor(limits: PathReadLimits, onRefused: () => void = () => undefined) {
    this.#limits = limits;
    this.#onRefused = onRefused;
  }

  /** Runs `work` when a turn is free; throws `busy` at once when too many are waiting already. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    const { maxConcurrent, maxQueued } = this.#limits;
    if (maxConcurrent > 0 && this.#running >= maxConcurrent) {
      if (maxQueued > 0 && this.#waiting.length >= maxQueued) {
        this.#onRefused();
        throw busy(
          `too many path ingests on this gateway: ${this.#running} ${this.#running === 1 ? 'file' : 'files'} being read, ${this.#waiting.length} waiting`,
          RETRY_AFTER_SECONDS,
        );
      }
      // The turn is handed over by the finishing holder, so #running stays counted meanwhile.
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running += 1;
    }
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running -= 1;
    }
  }
}
