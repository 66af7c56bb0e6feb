/**
 * Per-process single-flight: concurrent calls for the same key share one computation. The entry
 * is dropped when it settles, so a failure is not remembered and the next call tries again.
 */
export class SingleFlight<T> {
  readonly #flights = new Map<string, Promise<T>>();

  run(key: string, compute: () => Promise<T>): Promise<T> {
    const existing = this.#flights.get(key);
    if (existing) return existing;
    const flight = compute().finally(() => this.#flights.delete(key));
    this.#flights.set(key, flight);
    return flight;
  }

  /** The flight already running for `key`, if any. */
  get(key: string): Promise<T> | undefined {
    return this.#flights.get(key);
  }

  get size(): number {
    return this.#flights.size;
  }
}
