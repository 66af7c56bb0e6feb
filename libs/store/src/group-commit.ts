/**
 * Locks on documents shared by every writer of a store, so that two processes never write the
 * same document at once (each would read version N and write N + 1: one update would be lost).
 * The store asks for a batch's keys before it reads their versions and releases them after the
 * commit; a key another writer holds waits for a later batch.
 */
export interface DocumentLocks {
  /** Takes every free key of `keys` for this writer; returns the keys it now holds. */
  tryAcquire(keys: readonly string[]): Promise<string[]>;
  release(keys: readonly string[]): Promise<void>;
}

interface Pending<W, R> {
  key: string;
  weight: number;
  write: W;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

export interface GroupCommitOptions<W, R> {
  /**
   * Commits one batch (distinct keys) and returns each write's outcome in order: its result, or
   * the Error that failed it alone. Throwing fails the whole batch.
   */
  commit: (writes: W[]) => Promise<(R | Error)[]>;
  /** Upper bounds of one batch: writes, and their summed weight (rows). */
  maxWrites: number;
  maxWeight: number;
  locks?: DocumentLocks;
  /** How long to wait before asking again for locks another writer holds. */
  lockRetryMs?: number;
}

/**
 * Group commit, as databases do it: writes queue while a commit is in flight, and the next commit
 * takes everything queued (up to the bounds). A lone write is committed at once, never held back
 * for a timer; under load, batches grow by themselves to what arrives during one commit. Two writes
 * with the same key never share a batch: the later one goes into the next commit, so each gets its
 * own version.
 */
export class GroupCommit<W, R> {
  readonly #options: GroupCommitOptions<W, R>;
  readonly #queue: Pending<W, R>[] = [];
  #draining: Promise<void> | undefined;

  constructor(options: GroupCommitOptions<W, R>) {
    this.#options = options;
  }

  /** Queues a write; resolves once it is committed. */
  submit(key: string, weight: number, write: W): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ key, weight, write, resolve, reject });
      this.#kick();
    });
  }

  /** Starts draining unless a drain runs; a write queued as a drain ends starts the next one. */
  #kick(): void {
    if (this.#draining || this.#queue.length === 0) return;
    this.#draining = this.#drain().finally(() => {
      this.#draining = undefined;
      this.#kick();
    });
  }

  /** Writes queued or being committed. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Resolves when nothing is queued any more. */
  async idle(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      // One turn of the event loop first: callers whose writes just committed, and jobs that just
      // finished embedding, queue their next writes now rather than one commit later. Measured with
      // 16 writers: batches of 15 and 1 alternated without it.
      await new Promise((resolve) => setImmediate(resolve));
      const batch = this.#take();
      const held = await this.#lock(batch);
      if (held === undefined) continue;
      if (held.length === 0) {
        // Every key is being written by another writer: give it a moment.
        this.#queue.unshift(...batch);
        await new Promise((resolve) => setTimeout(resolve, this.#options.lockRetryMs ?? 20));
        continue;
      }
      const heldKeys = new Set(held.map((p) => p.key));
      // Writes whose key is locked elsewhere go back to the front, in their order.
      this.#queue.unshift(...batch.filter((p) => !heldKeys.has(p.key)));
      try {
        const outcomes = await this.#options.commit(held.map((p) => p.write));
        held.forEach((pending, i) => {
          const outcome = outcomes[i];
          if (outcome instanceof Error) pending.reject(outcome);
          else pending.resolve(outcome as R);
        });
      } catch (error) {
        for (const pending of held) pending.reject(error);
      } finally {
        await this.#options.locks?.release([...heldKeys]).catch(() => undefined);
      }
    }
  }

  /** The oldest writes that fit one batch, one per key; the rest stay queued. */
  #take(): Pending<W, R>[] {
    const batch: Pending<W, R>[] = [];
    const keys = new Set<string>();
    const rest: Pending<W, R>[] = [];
    let weight = 0;
    for (const pending of this.#queue) {
      const fits =
        batch.length === 0 ||
        (batch.length < this.#options.maxWrites && weight + pending.weight <= this.#options.maxWeight);
      if (fits && !keys.has(pending.key)) {
        batch.push(pending);
        keys.add(pending.key);
        weight += pending.weight;
      } else {
        rest.push(pending);
      }
    }
    this.#queue.splice(0, this.#queue.length, ...rest);
    return batch;
  }

  /** The writes of `batch` whose keys this writer now holds; undefined when the batch failed. */
  async #lock(batch: Pending<W, R>[]): Promise<Pending<W, R>[] | undefined> {
    const locks = this.#options.locks;
    if (!locks) return batch;
    let held: Set<string>;
    try {
      held = new Set(await locks.tryAcquire(batch.map((p) => p.key)));
    } catch (error) {
      // The lock service is down: these writes cannot be made safely now.
      for (const pending of batch) pending.reject(error);
      return undefined;
    }
    return batch.filter((p) => held.has(p.key));
  }
}
