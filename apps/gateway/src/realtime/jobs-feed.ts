import type { Redis } from 'ioredis';
import { parseProgressEvent, type JobView, type Keys } from '@hopper/contracts';
import type { Logger } from '@hopper/lifecycle';
import type { JobRecords } from '@hopper/jobs';
import type { RealtimeServer, RealtimeSocket } from './socket-types.ts';

/** One tenant's feed in this process: its room, its pattern subscription, its followers. */
interface TenantFeed {
  readonly tenant: string;
  readonly room: string;
  readonly sockets: Set<string>;
  subscribed: Promise<unknown>;
  /** Updates are read and sent in arrival order. */
  chain: Promise<void>;
}

/**
 * The `jobs` feed: a tenant's new jobs and state changes, for lists such as the progress page's.
 * Every state change of a job is published on the job's progress channel (creation included, by
 * JobRecords.create), so the feed is a pattern subscription on the tenant's progress channels,
 * made on the process's one subscriber connection while at least one of its sockets follows the
 * feed. Mere progress is left out: a list follows the jobs it shows with `subscribe {jobId}`.
 */
export class JobsFeed {
  readonly #io: RealtimeServer;
  readonly #subscriber: Redis;
  readonly #records: JobRecords;
  readonly #keys: Keys;
  readonly #logger: Logger;
  /** By Redis pattern. */
  readonly #feeds = new Map<string, TenantFeed>();

  constructor(deps: {
    io: RealtimeServer;
    subscriber: Redis;
    records: JobRecords;
    keys: Keys;
    logger: Logger;
  }) {
    this.#io = deps.io;
    this.#subscriber = deps.subscriber;
    this.#records = deps.records;
    this.#keys = deps.keys;
    this.#logger = deps.logger;
    this.#subscriber.on('pmessage', (pattern: string, _channel: string, message: string) =>
      this.#onMessage(pattern, message),
    );
  }

  /**
   * Adds the socket to its tenant's feed and returns the tenant's `limit` most recent jobs. The
   * socket is in the room before the list is read, so a change racing the read is sent as well
   * (clients keep the newest `updatedAt` of a job).
   */
  async join(socket: RealtimeSocket, limit: number): Promise<JobView[]> {
    const { tenant } = socket.data;
    const pattern = this.#pattern(tenant);
    let feed = this.#feeds.get(pattern);
    if (!feed) {
      const created: TenantFeed = {
        tenant,
        room: `feed:${JSON.stringify(tenant)}`,
        sockets: new Set(),
        subscribed: Promise.resolve(),
        chain: Promise.resolve(),
      };
      created.subscribed = this.#subscriber.psubscribe(pattern).catch((error: unknown) => {
        // Not subscribed after all: the next join tries again.
        if (this.#feeds.get(pattern) === created) this.#feeds.delete(pattern);
        throw error;
      });
      this.#feeds.set(pattern, created);
      feed = created;
    }
    feed.sockets.add(socket.id);
    socket.data.feed = true;
    await socket.join(feed.room);
    try {
      await feed.subscribed;
      const { jobs } = await this.#records.list(tenant, { limit });
      return jobs;
    } catch (error) {
      this.leave(socket);
      throw error;
    }
  }

  leave(socket: RealtimeSocket): void {
    if (!socket.data.feed) return;
    socket.data.feed = false;
    const pattern = this.#pattern(socket.data.tenant);
    const feed = this.#feeds.get(pattern);
    if (!feed) return;
    void socket.leave(feed.room);
    feed.sockets.delete(socket.id);
    if (feed.sockets.size === 0) {
      this.#feeds.delete(pattern);
      this.#subscriber.punsubscribe(pattern).catch(() => undefined);
    }
  }

  close(): void {
    for (const pattern of this.#feeds.keys()) this.#subscriber.punsubscribe(pattern).catch(() => undefined);
    this.#feeds.clear();
  }

  #pattern(tenant: string): string {
    // The prefix is validated to glob-safe characters; a tenant name is escaped.
    return this.#keys.progressChannel(tenant.replace(/[*?[\]\\]/g, '\\$&'), '*');
  }

  #onMessage(pattern: string, message: string): void {
    const feed = this.#feeds.get(pattern);
    if (!feed) return;
    const event = parseProgressEvent(message);
    if (!event || event.state === 'progress') return;
    const { jobId } = event;
    feed.chain = feed.chain
      .then(async () => {
        const job = await this.#records.get(feed.tenant, jobId);
        if (job) this.#io.to(feed.room).emit('jobs', { job });
      })
      .catch((error: unknown) => this.#logger.warn({ err: error, jobId }, 'jobs feed update not sent'));
  }
}
