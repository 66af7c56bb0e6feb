import { withTimeout } from './with-timeout.ts';

/**
 * Stops calling a failing dependency for a while: after `threshold` failures in a row the breaker
 * opens and `allow()` says no for `coolDownMs`; then one call is let through, and its outcome
 * closes or re-opens the breaker. Used so a cache outage costs requests nothing after the first
 * few timeouts, instead of a timeout on every call.
 */
export class CircuitBreaker {
  readonly #threshold: number;
  readonly #coolDownMs: number;
  #failures = 0;
  #openUntil = 0;
  #trial = false;

  constructor(options: { threshold?: number; coolDownMs?: number } = {}) {
    this.#threshold = options.threshold ?? 5;
    this.#coolDownMs = options.coolDownMs ?? 5_000;
  }

  allow(): boolean {
    if (this.#failures < this.#threshold) return true;
    if (Date.now() < this.#openUntil || this.#trial) return false;
    this.#trial = true;
    return true;
  }

  succeeded(): void {
    this.#failures = 0;
    this.#trial = false;
  }

  failed(): void {
    this.#failures += 1;
    this.#trial = false;
    if (this.#failures >= this.#threshold) this.#openUntil = Date.now() + this.#coolDownMs;
  }

  get open(): boolean {
    return this.#failures >= this.#threshold && Date.now() < this.#openUntil;
  }
}

/** Thrown instead of calling a dependency while its breaker is open. */
export class CircuitOpenError extends Error {
  override readonly name = 'CircuitOpenError';
}

/** Runs `call` through the breaker with a time budget. */
export async function guarded<T>(
  breaker: CircuitBreaker,
  timeoutMs: number,
  call: () => Promise<T>,
): Promise<T> {
  if (!breaker.allow()) throw new CircuitOpenError('cache unavailable (circuit open)');
  try {
    const value = await withTimeout(call(), timeoutMs);
    breaker.succeeded();
    return value;
  } catch (error) {
    breaker.failed();
    throw error;
  }
}
