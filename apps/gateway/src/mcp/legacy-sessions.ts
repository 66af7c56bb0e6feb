import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from '@hopper/contracts';
import type { Logger } from '@hopper/lifecycle';
import type { JobsService } from '../jobs-service.ts';

/**
 * Legacy (2025-era) clients cancel with `notifications/cancelled {requestId}`, sent as a separate
 * POST that may reach any replica, and the SDK's stateless legacy path hands it to a fresh server
 * instance that knows nothing of the running call. JSON-RPC ids are only unique per client, so
 * Hopper gives each legacy client a session id at `initialize` (clients echo it on every request),
 * and a waiting call records `tenant + session + request id → job` in Redis for any replica to find.
 * Nothing else depends on the session: requests without one are served as before.
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
