import { busy } from '@hopper/contracts';
import { guarded, type CircuitBreaker, type TokenBucket } from '@hopper/redis';
import type { Metrics } from '@hopper/telemetry';

export interface TenantRateLimitOptions {
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
 * Takes one token from the tenant's bucket; throws `busy` (with when to retry) over the rate. With
 * `uncounted`, a refusal is not counted: for a caller that hands the refused request on to a path
 * that charges (and counts) it again, as the MCP fast path does.
 */
export type ChargeTenant = (tenant: string, options?: { uncounted?: boolean }) => Promise<void>;

/**
 * The per-tenant rate limit, one bucket per tenant shared by everything a tenant asks of any
 * gateway: tool calls (MCP and REST) and Socket.IO events. Over the rate, the request is refused as
 * `busy` with the time until the next token.
 *
 * When Redis does not answer within the budget the request goes through (fail open), logged and
 * counted: the limiter is there for fairness between tenants, while the gateway's own overload
 * protection (load shedding, the per-socket event limit) does not depend on Redis. Failing closed
 * would turn a Redis outage into a refusal of every call, searches included, which can still be
 * answered from the store.
 */
export function tenantRateLimit(options: TenantRateLimitOptions): ChargeTenant {
  const { bucket, breaker, timeoutMs, metrics } = options;
  const policy = `${options.perSecond} calls per second, bursts of ${options.burst}`;

  return async (tenant, chargeOptions) => {
    let grant;
    try {
      grant = await guarded(breaker, timeoutMs, () => bucket.take(tenant));
    } catch (error) {
      metrics.rateLimiterFailures.inc();
      options.onError(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (grant.allowed) return;
    if (!chargeOptions?.uncounted) metrics.limitRefusals.inc({ limit: 'rate' });
    throw busy(`rate limit reached for this tenant (${policy})`, grant.retryAfterMs / 1000);
  };
}
