import type { Redis } from 'ioredis';
import { parseProgressEvent, type JobView, type Keys, type ProgressEvent } from '@hopper/contracts';
import type { JobRecords } from './job-records.ts';

export type ProgressListener = (event: ProgressEvent) => void;

/**
 * One subscriber connection per process, fanned out to every local listener of a job. Channels are
 * subscribed while at least one listener watches them (reference-counted), so a gateway holds as
 * many subscriptions as it has jobs being watched, not one per client.
 */
export class ProgressSubscriber {
  readonly #subscriber: Redis;
  readonly #records: JobRecords;
  readonly #keys: Keys;
  readonly #listeners = new Map<string, Set<ProgressListener>>();
  /** The job each subscribed channel belongs to, to read its record after a reconnect. */
  readonly #jobs = new Map<string, { tenant: string; jobId: string }>();
  #closed = false;

  readonly #onEvent: ((event: ProgressEvent) => void) | undefined;

  /**
   * `subscriber` must be a dedicated connection: once subscribed it can run nothing else.
   * `onEvent` sees every event received (for the progress-lag metric).
   */
  constructor(subscriber: Redis, records: JobRecords, keys: Keys, onEvent?: (event: ProgressEvent) => void) {
    this.#subscriber = subscriber;
    this.#records = records;
    this.#keys = keys;
    this.#onEvent = onEvent;
    subscriber.on('message', (channel: string, message: string) => this.#dispatch(channel, message));
    // Pub/sub keeps nothing for a disconnected subscriber: an event published while the connection
    // was down (a job that ended during a Redis restart) is gone, and its watchers would wait for
    // an end that already happened. So every (re)connection catches the watchers up.
    subscriber.on('ready', () => void this.#catchUp());
  }

  /**
   * Calls `listener` for every event of the job from now on, starting with the job's current state
   * (read after the subscription is in place, so no event between the two is missed). Returns the
   * function that stops watching.
   */
  async watch(tenant: string, jobId: string, listener: ProgressListener): Promise<() => Promise<void>> {
    if (this.#closed) throw new Error('progress subscriber is closed');
    const channel = this.#keys.progressChannel(tenant, jobId);
    let set = this.#listeners.get(channel);
    if (!set) {
      set = new Set();
      this.#listeners.set(channel, set);
      this.#jobs.set(channel, { tenant, jobId });
      await this.#subscriber.subscribe(channel);
    }
    set.add(listener);
    const current = await this.#records.get(tenant, jobId);
    if (current) listener(currentState(current));
    let stopped = false;
    return async () => {
      if (stopped) return;
      stopped = true;
      const listeners = this.#listeners.get(channel);
      listeners?.delete(listener);
      if (listeners && listeners.size === 0) {
        this.#listeners.delete(channel);
        this.#jobs.delete(channel);
        if (!this.#closed) await this.#subscriber.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  /** Number of channels currently subscribed (for metrics and tests of the reference counting). */
  get channelCount(): number {
    return this.#listeners.size;
  }

  close(): void {
    this.#closed = true;
    this.#listeners.clear();
    this.#jobs.clear();
  }

  /**
   * Hands every watcher its job's current state, as `watch` does at the start. The record is read
   * after the subscriptions are confirmed (ioredis resubscribes on reconnect; subscribing again
   * waits for that), so no event falls between the read and the subscription. Listeners already
   * drop states that are not newer than what they have.
   */
  async #catchUp(): Promise<void> {
    const channels = [...this.#jobs.keys()];
    if (this.#closed || channels.length === 0) return;
    try {
      await this.#subscriber.subscribe(...channels);
      await Promise.all(
        channels.map(async (channel) => {
          const job = this.#jobs.get(channel);
          const current = job && (await this.#records.get(job.tenant, job.jobId));
          if (!current) return;
          for (const listener of [...(this.#listeners.get(channel) ?? [])]) listener(currentState(current));
        }),
      );
    } catch {
      // Redis went away again: the next reconnection catches up.
    }
  }

  #dispatch(channel: string, message: string): void {
    const listeners = this.#listeners.get(channel);
    if (!listeners) return;
    const event = parseProgressEvent(message);
    if (!event) return;
    this.#onEvent?.(event);
    for (const listener of [...listeners]) listener(event);
  }
}

/** A job record as the event a watcher would have seen last. */
function currentState(view: JobView): ProgressEvent {
  return {
    jobId: view.jobId,
    state: view.state,
    progress: view.progress,
    ts: Date.parse(view.updatedAt),
    ...(view.stage ? { stage: view.stage } : {}),
    ...(view.message ? { message: view.message } : {}),
  };
}
