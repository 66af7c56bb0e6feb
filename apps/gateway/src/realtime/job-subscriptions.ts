import type { JobView, ProgressEvent } from '@hopper/contracts';
import type { Logger } from '@hopper/lifecycle';
import type { JobRecords, ProgressSubscriber } from '@hopper/jobs';
import { sendJobEvent, type JobEventOut, type RealtimeServer, type RealtimeSocket } from './socket-types.ts';

/** A socket may follow this many jobs at once; the page follows the few that are running. */
export const MAX_JOBS_PER_SOCKET = 200;

/**
 * The sockets of this process that follow one job, and the one watch on the job's Redis channel
 * that feeds them. `last` is the newest event the hub has sent: a socket that joins later gets it
 * first, in the same tick as it joins the room, so it can neither miss nor repeat an event.
 */
interface Hub {
  readonly key: string;
  readonly room: string;
  readonly tenant: string;
  readonly jobId: string;
  readonly members: Set<string>;
  /** Subscribers waiting for the hub's first state. */
  pending: number;
  last: JobEventOut | undefined;
  terminal: boolean;
  disposed: boolean;
  /** Events are handled one at a time, in arrival order (a terminal one reads the record first). */
  chain: Promise<void>;
  ready: Promise<void>;
  stop: (() => Promise<void>) | undefined;
}

/**
 * Per-job Socket.IO subscriptions of one gateway process. The process holds one Redis subscriber
 * connection (ProgressSubscriber) and one watch per followed job, however many sockets follow it;
 * events go to the job's room with one broadcast. A subscription ends with the job's terminal
 * event, sent exactly once; then the hub lets go of the channel.
 */
export class JobSubscriptions {
  readonly #io: RealtimeServer;
  readonly #progress: ProgressSubscriber;
  readonly #records: JobRecords;
  readonly #logger: Logger;
  readonly #hubs = new Map<string, Hub>();

  constructor(deps: {
    io: RealtimeServer;
    progress: ProgressSubscriber;
    records: JobRecords;
    logger: Logger;
  }) {
    this.#io = deps.io;
    this.#progress = deps.progress;
    this.#records = deps.records;
    this.#logger = deps.logger;
  }

  /** Jobs this process currently watches for its sockets. */
  get watched(): number {
    return this.#hubs.size;
  }

  /**
   * Sends the job's current state to the socket, then every change until the job ends. Returns
   * false when the socket's tenant has no such job (another tenant's job is not found either).
   */
  async subscribe(socket: RealtimeSocket, jobId: string): Promise<boolean> {
    const { tenant } = socket.data;
    const key = JSON.stringify([tenant, jobId]);
    if (socket.data.jobs.has(key)) return true;
    const hub = this.#hubs.get(key) ?? this.#open(tenant, jobId, key);
    hub.pending += 1;
    try {
      await hub.ready;
    } finally {
      hub.pending -= 1;
    }
    const last = hub.last;
    if (!last) {
      this.#releaseIfUnused(hub);
      return false;
    }
    if (socket.disconnected) {
      this.#releaseIfUnused(hub);
      return true;
    }
    // Both in one tick: no event of the hub can fall between the state sent and the room joined.
    sendJobEvent(socket, last);
    if (!hub.terminal && !hub.disposed) {
      void socket.join(hub.room);
      hub.members.add(socket.id);
      socket.data.jobs.add(key);
    }
    return true;
  }

  unsubscribe(socket: RealtimeSocket, jobId: string): void {
    const key = JSON.stringify([socket.data.tenant, jobId]);
    if (!socket.data.jobs.delete(key)) return;
    const hub = this.#hubs.get(key);
    if (!hub) return;
    void socket.leave(hub.room);
    hub.members.delete(socket.id);
    this.#releaseIfUnused(hub);
  }

  /** A socket went away: its rooms are gone with it; release the hubs no one else follows. */
  dropSocket(socket: RealtimeSocket): void {
    for (const key of socket.data.jobs) {
      const hub = this.#hubs.get(key);
      if (!hub) continue;
      hub.members.delete(socket.id);
      this.#releaseIfUnused(hub);
    }
    socket.data.jobs.clear();
  }

  async close(): Promise<void> {
    const stops = [...this.#hubs.values()].map((hub) => this.#dispose(hub));
    await Promise.all(stops);
  }

  #open(tenant: string, jobId: string, key: string): Hub {
    const hub: Hub = {
      key,
      room: `job:${key}`,
      tenant,
      jobId,
      members: new Set(),
      pending: 0,
      last: undefined,
      terminal: false,
      disposed: false,
      chain: Promise.resolve(),
      ready: Promise.resolve(),
      stop: undefined,
    };
    this.#hubs.set(key, hub);
    hub.ready = (async () => {
      try {
        // The watch hands us the job's current state first (if the job exists), then its events.
        const stop = await this.#progress.watch(tenant, jobId, (event) => {
          hub.chain = hub.chain
            .then(() => this.#handle(hub, event))
            .catch((error: unknown) => this.#logger.warn({ err: error, jobId }, 'job event not delivered'));
        });
        if (hub.disposed) await stop();
        else hub.stop = stop;
        await hub.chain;
      } catch (error) {
        await this.#dispose(hub);
        throw error;
      }
    })();
    return hub;
  }

  async #handle(hub: Hub, event: ProgressEvent): Promise<void> {
    if (hub.terminal || hub.disposed) return;
    const terminal = event.state === 'completed' || event.state === 'failed' || event.state === 'cancelled';
    const last = hub.last?.payload;
    // The current state read at watch time can arrive after a newer live event; drop what is not
    // newer. Timestamps come from the one process that runs the job, so they only go forward
    // within an attempt, and a retry starts after a backoff of at least hundreds of milliseconds.
    if (
      last &&
      !terminal &&
      (event.ts < last.ts || (event.ts === last.ts && event.progress <= last.progress))
    ) {
      return;
    }
    let out: JobEventOut;
    if (terminal) {
      hub.terminal = true;
      // The outcome is a nicety; the end itself must go out even if the record cannot be read.
      const view = await this.#records.get(hub.tenant, hub.jobId).catch(() => undefined);
      out = terminalEvent(event, view);
    } else {
      out = {
        name: 'job:progress',
        payload: { ...event, state: event.state as 'queued' | 'active' | 'progress' },
      };
    }
    hub.last = out;
    sendJobEvent(this.#io.to(hub.room), out);
    if (hub.terminal) await this.#dispose(hub);
  }

  #releaseIfUnused(hub: Hub): void {
    if (hub.members.size === 0 && hub.pending === 0) void this.#dispose(hub);
  }

  async #dispose(hub: Hub): Promise<void> {
    if (hub.disposed) return;
    hub.disposed = true;
    if (this.#hubs.get(hub.key) === hub) this.#hubs.delete(hub.key);
    for (const id of hub.members) this.#io.sockets.sockets.get(id)?.data.jobs.delete(hub.key);
    hub.members.clear();
    this.#io.in(hub.room).socketsLeave(hub.room);
    const stop = hub.stop;
    hub.stop = undefined;
    await stop?.();
  }
}

/** The terminal event, with the outcome from the record (the channel's event carries none). */
function terminalEvent(event: ProgressEvent, view: JobView | undefined): JobEventOut {
  const base = {
    jobId: event.jobId,
    progress: event.progress,
    ts: event.ts,
    ...(event.stage !== undefined ? { stage: event.stage } : {}),
    ...(event.message !== undefined ? { message: event.message } : {}),
  };
  switch (event.state) {
    case 'completed':
      return {
        name: 'job:completed',
        payload: { ...base, state: 'completed', ...(view?.result ? { result: view.result } : {}) },
      };
    case 'failed':
      return {
        name: 'job:failed',
        payload: { ...base, state: 'failed', error: view?.error ?? event.message ?? 'the job failed' },
      };
    default:
      return { name: 'job:cancelled', payload: { ...base, state: 'cancelled' } };
  }
}
