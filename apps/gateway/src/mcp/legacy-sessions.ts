import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from '@hopper/contracts';
import type { JobsService } from '@hopper/jobs';
import type { Logger } from '@hopper/lifecycle';

/** A legacy MCP request, as the client names it: its session (given at `initialize`) and JSON-RPC id. */
export interface LegacyRequest {
  sessionId: string;
  requestId: string;
}

/** How long a route outlives the wait it was written for, in case the gateway dies before deleting it. */
const ROUTE_GRACE_MS = 60_000;

/**
 * Legacy (2025-era) clients cancel with `notifications/cancelled {requestId}`, sent as a separate
 * POST that may reach any replica, and the SDK's stateless legacy path hands it to a fresh server
 * instance that knows nothing of the running call. JSON-RPC ids are only unique per client, so
 * Hopper gives each legacy client a session id at `initialize` (clients echo it on every request),
 * and a waiting call records `tenant + session + request id → job` in Redis for any replica to find.
 * Nothing else depends on the session: requests without one are served as before. This class owns
 * those routes (`Keys.legacyRequest`): it alone writes, reads and deletes them.
 */
export class LegacySessions {
  readonly #redis: Redis;
  readonly #keys: Keys;
  readonly #jobs: JobsService;
  readonly #logger: Logger;

  constructor(deps: { redis: Redis; keys: Keys; jobs: JobsService; logger: Logger }) {
    this.#redis = deps.redis;
    this.#keys = deps.keys;
    this.#jobs = deps.jobs;
    this.#logger = deps.logger;
  }

  newSessionId(): string {
    return randomUUID();
  }

  /**
   * Runs `wait` (a wait of at most `timeoutMs` for `jobId`) with the request's route in place, so
   * its `notifications/cancelled` finds the job from any replica; the route goes when the wait ends.
   * The route lives in the caller's tenant's key space, so only that tenant's requests can write,
   * delete or use it, whatever session id another caller presents.
   */
  async whileWaiting<T>(
    tenant: string,
    request: LegacyRequest,
    jobId: string,
    timeoutMs: number,
    wait: () => Promise<T>,
  ): Promise<T> {
    const key = this.#keys.legacyRequest(tenant, request.sessionId, request.requestId);
    await this.#redis.set(key, jobId, 'PX', timeoutMs + ROUTE_GRACE_MS);
    try {
      return await wait();
    } finally {
      await this.#redis.del(key);
    }
  }

  /**
   * Cancels the job a legacy request of `tenant` is waiting on, if any; unknown requests are ignored
   * (as MCP says). Routes are looked up in the caller's tenant only: another tenant's request with
   * the same session and request id is not found, so it can be neither cancelled nor overwritten.
   */
  async cancel(sessionId: string, requestId: string | number, tenant: string): Promise<boolean> {
    const jobId = await this.#redis.get(this.#keys.legacyRequest(tenant, sessionId, String(requestId)));
    if (!jobId) return false;
    this.#logger.info({ jobId, requestId }, 'legacy client cancelled its request; cancelling the job');
    await this.#jobs.cancel(tenant, jobId);
    return true;
  }
}
