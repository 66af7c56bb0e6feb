import * as z from 'zod';
import type { EnvRule } from '@hopper/contracts';

const emptyToUndefined = (value: unknown) => (value === '' ? undefined : value);
/** A count where 0 turns the limit off. */
const limit = (fallback: number) =>
  z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).default(fallback));

/**
 * The gateway's protection against overload and against any one tenant. Defaults and their reasons
 * are in docs/limits.md; every one of them can be turned off with 0.
 */
export const limitsEnv = {
  /** Calls per second each tenant may make, sustained (0: no rate limit, the default). */
  HOPPER_RATE_LIMIT_PER_SECOND: z.preprocess(emptyToUndefined, z.coerce.number().min(0).default(0)),
  /** Calls a tenant that has been quiet may make at once (default: two seconds' worth). */
  HOPPER_RATE_LIMIT_BURST: z.preprocess(emptyToUndefined, z.coerce.number().int().positive().optional()),
  /**
   * Socket.IO events (`subscribe`, `unsubscribe`, `cancel`, anything else) one socket may send per
   * second, sustained (0: no per-socket limit). Always on, in memory, so a flooding socket is stopped
   * before it costs Redis anything. 20/s is far above what a person or the progress page does (one
   * `subscribe` per job as it appears, one `cancel` per click) and still bounds one socket's Redis
   * work to a few dozen commands a second.
   */
  HOPPER_SOCKET_RATE_LIMIT_PER_SECOND: z.preprocess(emptyToUndefined, z.coerce.number().min(0).default(20)),
  /**
   * Events a socket that has been quiet may send at once (default: two seconds' worth, 40 at the
   * default rate). The progress page sends up to 31 at (re)connection: the jobs feed plus the
   * unfinished jobs among the 30 it shows.
   */
  HOPPER_SOCKET_RATE_LIMIT_BURST: z.preprocess(
    emptyToUndefined,
    z.coerce.number().int().positive().optional(),
  ),
  /** Jobs one tenant may have queued or running at once. */
  HOPPER_MAX_JOBS_PER_TENANT: limit(1_000),
  /** Jobs waiting in the ingest (or embed) queue beyond which new ones are refused. */
  HOPPER_MAX_QUEUE_DEPTH: limit(10_000),
  /** MCP and REST requests one gateway serves at once; more are answered 503 at once. */
  HOPPER_MAX_INFLIGHT: limit(1_000),
  /** Event-loop lag (smoothed) from which a gateway starts turning new requests away. */
  HOPPER_SHED_EVENT_LOOP_LAG_MS: limit(250),
  /**
   * Files of path ingests one gateway reads at once. Each holds up to 32 MiB plus its copies on
   * the way to Redis (~100 MB at the most), so 2 keep a gateway's pod (1 GiB) clear of them.
   */
  HOPPER_MAX_PATH_READS: limit(2),
  /** Path ingests waiting for a read beyond which new ones are answered `busy`. */
  HOPPER_MAX_PATH_READ_QUEUE: limit(64),
  /**
   * `subscriptions/listen` streams one tenant may hold open on one gateway. Each is an open HTTP
   * response (counted in HOPPER_MAX_INFLIGHT too) and up to 100 watched jobs; a client needs one
   * or two.
   */
  HOPPER_MAX_SUBSCRIPTIONS_PER_TENANT: limit(16),
  /** `subscriptions/listen` streams one gateway holds open, all tenants together (the SDK's default). */
  HOPPER_MAX_SUBSCRIPTIONS: limit(1_024),
};

type LimitsEnv = z.output<z.ZodObject<typeof limitsEnv>>;

/** A token bucket: a sustained rate and the burst allowed after a quiet spell. */
export interface RateSettings {
  perSecond: number;
  burst: number;
}

export interface LimitSettings {
  /** Per-tenant token bucket (in Redis); `undefined`: no rate limit. */
  rateLimit: RateSettings | undefined;
  /** Per-socket token bucket for Socket.IO events (in memory); `undefined`: no limit. */
  socketRateLimit: RateSettings | undefined;
  /** 0: no limit. */
  maxJobsPerTenant: number;
  /** 0: no limit. */
  maxQueueDepth: number;
  /** 0: no cap. */
  maxInflight: number;
  /** 0: lag is not watched. */
  maxEventLoopLagMs: number;
  /** Path ingests read at once, and waiting for a turn (0: no cap, no bound). */
  pathReads: { maxConcurrent: number; maxQueued: number };
  /** Open `subscriptions/listen` streams per tenant and in all, on one gateway (0: no limit). */
  subscriptions: { perTenant: number; total: number };
}

/** A burst without a rate would be silently ignored: say so instead. */
export const limitsEnvRules: EnvRule = (env) => [
  ...(env.HOPPER_RATE_LIMIT_BURST && !Number(env.HOPPER_RATE_LIMIT_PER_SECOND)
    ? ['HOPPER_RATE_LIMIT_BURST: has no effect without HOPPER_RATE_LIMIT_PER_SECOND (set both)']
    : []),
  // The socket rate has a default, so only an explicit 0 leaves a burst without effect.
  ...(env.HOPPER_SOCKET_RATE_LIMIT_BURST &&
  env.HOPPER_SOCKET_RATE_LIMIT_PER_SECOND &&
  Number(env.HOPPER_SOCKET_RATE_LIMIT_PER_SECOND) === 0
    ? ['HOPPER_SOCKET_RATE_LIMIT_BURST: has no effect when HOPPER_SOCKET_RATE_LIMIT_PER_SECOND is 0']
    : []),
];

/** A bucket for the rate (0: none), holding two seconds' worth unless told otherwise. */
function rateSettings(perSecond: number, burst: number | undefined): RateSettings | undefined {
  return perSecond > 0 ? { perSecond, burst: burst ?? Math.max(1, Math.ceil(perSecond * 2)) } : undefined;
}

export function limitSettings(env: LimitsEnv): LimitSettings {
  return {
    rateLimit: rateSettings(env.HOPPER_RATE_LIMIT_PER_SECOND, env.HOPPER_RATE_LIMIT_BURST),
    socketRateLimit: rateSettings(
      env.HOPPER_SOCKET_RATE_LIMIT_PER_SECOND,
      env.HOPPER_SOCKET_RATE_LIMIT_BURST,
    ),
    maxJobsPerTenant: env.HOPPER_MAX_JOBS_PER_TENANT,
    maxQueueDepth: env.HOPPER_MAX_QUEUE_DEPTH,
    maxInflight: env.HOPPER_MAX_INFLIGHT,
    maxEventLoopLagMs: env.HOPPER_SHED_EVENT_LOOP_LAG_MS,
    pathReads: { maxConcurrent: env.HOPPER_MAX_PATH_READS, maxQueued: env.HOPPER_MAX_PATH_READ_QUEUE },
    subscriptions: {
      perTenant: env.HOPPER_MAX_SUBSCRIPTIONS_PER_TENANT,
      total: env.HOPPER_MAX_SUBSCRIPTIONS,
    },
  };
}
