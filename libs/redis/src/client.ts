import { Redis, type RedisOptions } from 'ioredis';

/**
 * What a connection is for. Blocking commands and subscriptions hold a connection, so they never
 * share one with ordinary commands (a subscribed connection cannot run GET at all).
 */
export type RedisRole = 'command' | 'subscriber' | 'bullmq';

export interface CreateRedisOptions {
  /** Shown in `CLIENT LIST` (`hopper-gateway-command`, ...): makes a busy Redis debuggable. */
  name: string;
  role: RedisRole;
  /**
   * Told about connection errors (refused, reset) while ioredis reconnects; without a listener
   * ioredis prints every one. Repeats of the same message are passed on at most every 10 s.
   */
  onError: (error: Error) => void;
}

/** Creates an ioredis connection with the defaults every Hopper process uses. */
export function createRedis(url: string, options: CreateRedisOptions): Redis {
  const base: RedisOptions = {
    connectionName: `hopper-${options.name}-${options.role}`,
    // Reconnect forever with a capped backoff: Redis restarts (failover, upgrade) must not kill a
    // gateway or worker; readiness reports the outage meanwhile.
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
    // Fail fast when Redis cannot be reached at start instead of hanging the process silently.
    connectTimeout: 5_000,
    enableAutoPipelining: options.role === 'command',
  };
  if (options.role === 'bullmq') {
    // BullMQ requires this for its blocking connections: a blocked BRPOPLPUSH may outlive any
    // per-request retry budget, and BullMQ retries itself.
    base.maxRetriesPerRequest = null;
  } else if (options.role === 'subscriber') {
    // ioredis 5 races a SUBSCRIBE sent while connecting with its own handshake (CLIENT SETINFO,
    // then the INFO ready check): the connection enters subscriber mode first, the INFO is refused,
    // the connection drops and the subscription is lost (redis/ioredis#2037, fixed in 6.0). A
    // subscriber never needs either: it only runs subscriber commands, which Redis accepts while
    // loading.
    base.enableReadyCheck = false;
    base.disableClientInfo = true;
  } else if (options.role === 'command') {
    // A fast-path call must not wait out a long outage: fail the command and let the caller answer.
    base.maxRetriesPerRequest = 2;
  }
  const redis = new Redis(url, base);
  let last = { message: '', at: 0 };
  redis.on('error', (error: Error) => {
    const now = Date.now();
    if (error.message === last.message && now - last.at < 10_000) return;
    last = { message: error.message, at: now };
    options.onError(error);
  });
  return redis;
}

/** Closes a connection gracefully, or drops it if QUIT cannot be sent (already closed, unreachable). */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}

/** Socket errors ioredis passes on when Redis cannot be reached. */
const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH']);

/**
 * Whether a command failed because Redis could not be reached (down, restarting, unreachable), as
 * opposed to Redis refusing it: a command connection gives up after its retries with
 * `MaxRetriesPerRequestError`, a closed one with "Connection is closed.". Callers answer with "try
 * again" instead of an internal error.
 */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError' || error.message === 'Connection is closed.') return true;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && CONNECTION_ERROR_CODES.has(code);
}

/** What a client is told when Redis cannot be reached. */
export const REDIS_UNAVAILABLE_MESSAGE =
  'Hopper cannot reach Redis (its job queue and job records) right now; try again in a few seconds';
