import type { Redis } from 'ioredis';
import { parseProgressEvent, type Keys, type ProgressEvent } from '@hopper/contracts';
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
      await this.#subscriber.subscribe(channel);
    }
    set.add(listener);
    const current = await this.#records.get(tenant, jobId);
    if (current) {
      listener({
        jobId,
        state: current.state,
        progress: current.progress,
        ts: Date.parse(current.updatedAt),
        ...(current.stage ? { stage: current.stage } : {}),
        ...(current.message ? { message: current.message } : {}),
      });
    }
    let stopped = false;
    return async () => {
      if (stopped) return;
      stopped = true;
      const listeners = this.#listeners.get(channel);
      listeners?.delete(listener);
      if (listeners && listeners.size === 0) {
        this.#listeners.delete(channel);
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
