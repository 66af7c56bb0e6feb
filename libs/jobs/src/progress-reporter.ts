import type { JobRecords, JobUpdate } from './job-records.ts';

export interface ProgressUpdate {
  progress: number;
  stage: string;
  message?: string;
  current?: number;
  total?: number;
}

/**
 * Throttles a job's progress: at most one event per `minIntervalMs` and per `minDelta` of progress
 * (a new stage counts as a change), the first always. Terminal events bypass it (see createProcessor).
 * Progress never goes backwards within one attempt.
 */
export class ProgressReporter {
  readonly #records: JobRecords;
  readonly #tenant: string;
  readonly #jobId: string;
  readonly #throttle: { minIntervalMs: number; minDelta: number };
  readonly #onSent: (progress: number) => Promise<unknown>;
  #lastAt = 0;
  #lastProgress = -1;
  #lastStage: string | undefined;
  #pending: Promise<unknown> = Promise.resolve();

  constructor(options: {
    records: JobRecords;
    tenant: string;
    jobId: string;
    throttle: { minIntervalMs: number; minDelta: number };
    /** Also mirrored into BullMQ (`job.updateProgress`) so queue dashboards show it. */
    onSent: (progress: number) => Promise<unknown>;
  }) {
    this.#records = options.records;
    this.#tenant = options.tenant;
    this.#jobId = options.jobId;
    this.#throttle = options.throttle;
    this.#onSent = options.onSent;
  }

  /** Reports progress; returns whether an event was sent. Never throws: progress is best effort. */
  report(update: ProgressUpdate): boolean {
    const now = Date.now();
    const progress = Math.max(this.#lastProgress, Math.min(1, Math.max(0, update.progress)));
    const first = this.#lastProgress < 0;
    const changed =
      progress - this.#lastProgress >= this.#throttle.minDelta || update.stage !== this.#lastStage;
    if (!first && (now - this.#lastAt < this.#throttle.minIntervalMs || !changed)) return false;
    this.#lastAt = now;
    this.#lastProgress = progress;
    this.#lastStage = update.stage;
    const event: JobUpdate = { jobId: this.#jobId, state: 'progress', ts: now, ...update, progress };
    // Sent in order, one at a time: a slow Redis call must not let a later event overtake.
    this.#pending = this.#pending
      .then(() => this.#records.apply(this.#tenant, event))
      .then(() => this.#onSent(progress))
      .catch(() => undefined);
    return true;
  }

  /** The last progress sent (0 before any): what a cancelled job keeps, since its work stopped there. */
  get progress(): number {
    return Math.max(0, this.#lastProgress);
  }

  /** Resolves once every event sent so far has reached Redis. */
  async flush(): Promise<void> {
    await this.#pending;
  }
}
