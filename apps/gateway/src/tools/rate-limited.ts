import { busy } from '@hopper/contracts';
import { guarded, type CircuitBreaker, type TokenBucket } from '@hopper/redis';
import type { Metrics } from '@hopper/telemetry';
import type { CallContext, ToolHandlers } from './tool-context.ts';

export interface RateLimitOptions {
  bucket: TokenBucket;
  /** What the refusal message quotes. */
  perSecond: number;
  burst: number;
  /** Skips the limiter during a Redis outage instead of waiting out a timeout on every call. */
  breaker: CircuitBreaker;
  timeoutMs: number;
  /** Told when Redis could not be asked and the call went through unchecked. */
  onError: (error: Error) => void;
  metrics: Pick<Metrics, 'limitRefusals' | 'rateLimiterFailures'>;
}

/**
 * Charges every tool call to its tenant's token bucket before it runs, cached answers included (they
 * cost the gateway too). Over the rate, the call is refused as `busy` with the time until the next
 * token. Hopper's own calls (cache warming) are not charged.
 *
 * When Redis does not answer within the budget the call goes through (fail open), logged and
 * counted: the limiter is there for fairness between tenants, while the gateway's own overload
 * protection (load shedding) does not depend on Redis. Failing closed would turn a Redis outage
 * into a refusal of every call, searches included, which can still be answered from the store.
 */
export function withRateLimit(handlers: ToolHandlers, options: RateLimitOptions): ToolHandlers {
  const { bucket, breaker, timeoutMs, metrics } = options;
  const policy = `${options.perSecond} calls per second, bursts of ${options.burst}`;

  async function charge(tenant: string): Promise<void> {
    let grant;
    try {
      grant = await guarded(breaker, timeoutMs, () => bucket.take(tenant));
    } catch (error) {
      metrics.rateLimiterFailures.inc();
      options.onError(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (grant.allowed) return;
    metrics.limitRefusals.inc({ limit: 'rate' });
    throw busy(`rate limit reached for this tenant (${policy})`, grant.retryAfterMs / 1000);
  }

  return Object.fromEntries(
    Object.entries(handlers).map(([name, handler]) => {
      const run = handler as (input: unknown, call: CallContext) => Promise<object>;
      const limited = async (input: unknown, call: CallContext) => {
        if (!call.background) await charge(call.tenant);
        return run(input, call);
      };
      return [name, limited];
    }),
  ) as ToolHandlers;
}
