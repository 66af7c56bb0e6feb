import type { Redis } from 'ioredis';
import type { Keys } from '@hopper/contracts';

/**
 * Takes one token from a tenant's bucket, refilling it first for the time since the last call, in
 * one atomic step on Redis's clock (every gateway replica shares the bucket, and their clocks need
 * not agree). A bucket nobody touched for as long as it takes to fill up is at capacity, so the key
 * expires then and idle tenants cost no memory.
 *
 * KEYS[1] bucket hash. ARGV: 1 tokens added per second, 2 capacity (burst).
 * Returns {1 taken | 0 refused, whole tokens left, ms until a token is available (0 when taken)}.
 */
const TAKE_TOKEN = `
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1])
local at = tonumber(bucket[2])
if tokens == nil or at == nil then
  tokens = capacity
else
  tokens = math.min(capacity, tokens + math.max(0, now - at) * rate / 1000)
end
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) * 1000 / rate) + 1000)
return {wait == 0 and 1 or 0, math.floor(tokens), wait}
`;

export interface TokenBucketOptions {
  redis: Redis;
  keys: Keys;
  /** Tokens added per second: the sustained rate of calls a tenant may make. */
  ratePerSecond: number;
  /** Capacity: how many calls a tenant that has been quiet may make at once. */
  burst: number;
}

export interface TokenGrant {
  allowed: boolean;
  /** Whole tokens left after this call. */
  remaining: number;
  /** When refused: milliseconds until the next token (0 when allowed). */
  retryAfterMs: number;
}

interface TokenBucketCommands {
  hopperTakeToken(key: string, rate: number, capacity: number): Promise<[number, number, number]>;
}

/**
 * Per-tenant rate limit: a token bucket in Redis shared by every gateway replica. One script call
 * per request, so with auto-pipelining concurrent calls share round trips.
 */
export class TokenBucket {
  readonly #redis: Redis & TokenBucketCommands;
  readonly #keys: Keys;
  readonly #rate: number;
  readonly #burst: number;

  constructor(options: TokenBucketOptions) {
    if (!(options.ratePerSecond > 0) || !(options.burst >= 1)) {
      throw new RangeError('a token bucket needs a positive rate and a burst of at least 1');
    }
    options.redis.defineCommand('hopperTakeToken', { numberOfKeys: 1, lua: TAKE_TOKEN });
    this.#redis = options.redis as Redis & TokenBucketCommands;
    this.#keys = options.keys;
    this.#rate = options.ratePerSecond;
    this.#burst = options.burst;
  }

  async take(tenant: string): Promise<TokenGrant> {
    const [taken, remaining, retryAfterMs] = await this.#redis.hopperTakeToken(
      this.#keys.rateLimit(tenant),
      this.#rate,
      this.#burst,
    );
    return { allowed: taken === 1, remaining, retryAfterMs };
  }
}
