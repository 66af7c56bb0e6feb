import { withTimeout } from '@hopper/lifecycle';

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
  #trialStartedAt = 0;

  constructor(options: { threshold?: number; coolDownMs?: number } = {}) {
    this.#threshold = options.threshold ?? 5;
    this.#coolDownMs = options.coolDownMs ?? 5_000;
  }

  allow(): boolean {
    if (this.#failures < this.#threshold) return true;
    const now = Date.now();
    // A trial call that never settles (a black-holed connection) must not keep the breaker shut.
    if (now < this.#openUntil || (this.#trial && now - this.#trialStartedAt < this.#coolDownMs)) return false;
    this.#trial = true;
    this.#trialStartedAt = now;
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

/**
 * Runs `call` through the breaker with a time budget. The caller stops waiting after `timeoutMs`,
 * but the breaker judges the dependency by the call's own outcome, not by that budget: under CPU
 * overload a reply from a healthy Redis can arrive late only because this process was busy, and
 * opening the breaker then would send every call down the expensive path without the cache,
 * deepening the overload it was caused by. Unreachable Redis rejects commands (ioredis gives up
 * after its retries), and those rejections open the breaker.
 */
export async function guarded<T>(
  breaker: CircuitBreaker,
  timeoutMs: number,
  call: () => Promise<T>,
): Promise<T> {
  if (!breaker.allow()) throw new CircuitOpenError('cache unavailable (circuit open)');
  let pending: Promise<T>;
  try {
    pending = call();
  } catch (error) {
    breaker.failed();
    throw error;
  }
  pending.then(
    () => breaker.succeeded(),
    () => breaker.failed(),
  );
  return withTimeout(pending, timeoutMs);
}
