import type {
  JobCancelledEvent,
  JobCompletedEvent,
  JobFailedEvent,
  JobKind,
  JobProgressEvent,
  JobState,
  JobView,
} from '@hopper/contracts';

/** Any job event the socket delivers. */
export type JobEvent = JobProgressEvent | JobCompletedEvent | JobFailedEvent | JobCancelledEvent;

interface JobModel {
  jobId: string;
  kind: JobKind;
  documentId: string | undefined;
  collection: string | undefined;
  state: JobState;
  progress: number;
  stage: string | undefined;
  message: string | undefined;
  error: string | undefined;
  result: Record<string, unknown> | undefined;
  createdAt: number;
  /** Time of the state shown, from the worker's clock (events) or the record (views). */
  updatedAt: number;
}

interface JobRow {
  model: JobModel;
  el: HTMLLIElement;
  state: HTMLElement;
  fill: HTMLElement;
  bar: HTMLElement;
  percent: HTMLElement;
  message: HTMLElement;
  time: HTMLElement;
  cancel: HTMLButtonElement;
}

/** Which jobs the list shows: every one, the unfinished ones, or those in one final state. */
export type JobFilter = 'all' | 'running' | 'completed' | 'failed' | 'cancelled';

function passes(filter: JobFilter, state: JobState): boolean {
  if (filter === 'all') return true;
  if (filter === 'running') return !isFinished(state);
  return state === filter;
}

export function isFinished(state: JobState): boolean {
  return state === 'completed' || state === 'failed' || state === 'cancelled';
}

/**
 * The "Recent jobs" list: one row per job, newest first, updated in place as views (from the
 * feed) and events (from job subscriptions) arrive. Whatever arrives, the newest state wins.
 */
export class JobList {
  readonly #rows = new Map<string, JobRow>();
  readonly #list: HTMLOListElement;
  readonly #empty: HTMLElement;
  readonly #count: HTMLElement;
  readonly #tabCount: HTMLElement;
  readonly #onCancel: (jobId: string, button: HTMLButtonElement) => void;
  readonly #onFinished: (model: { state: JobState; kind: JobKind }) => void;
  /** The most jobs kept; older finished ones drop off the end (running ones stay). */
  readonly #max: number;
  #filter: JobFilter = 'all';

  constructor(options: {
    list: HTMLOListElement;
    empty: HTMLElement;
    count: HTMLElement;
    tabCount: HTMLElement;
    max: number;
    onCancel: (jobId: string, button: HTMLButtonElement) => void;
    onFinished: (model: { state: JobState; kind: JobKind }) => void;
  }) {
    this.#list = options.list;
    this.#empty = options.empty;
    this.#count = options.count;
    this.#tabCount = options.tabCount;
    this.#max = options.max;
    this.#onCancel = options.onCancel;
    this.#onFinished = options.onFinished;
    this.#refreshSummary();
  }

  /** Shows only the jobs that pass `filter`; the count says how many are shown. */
  filter(filter: JobFilter): void {
    this.#filter = filter;
    for (const row of this.#rows.values()) row.el.hidden = !passes(filter, row.model.state);
    this.#refreshSummary();
  }

  /** Jobs shown that have not finished (the page follows each of them). */
  unfinished(): string[] {
    return [...this.#rows.values()]
      .filter((row) => !isFinished(row.model.state))
      .map((row) => row.model.jobId);
  }

  has(jobId: string): boolean {
    return this.#rows.has(jobId);
  }

  /** Adds or updates a job from its full view (feed, REST). Returns its state as now shown. */
  upsert(view: JobView): JobState {
    const incoming: JobModel = {
      jobId: view.jobId,
      kind: view.kind,
      documentId: view.documentId,
      collection: view.collection,
      state: view.state,
      progress: view.progress,
      stage: view.stage,
      message: view.message,
      error: view.error,
      result: view.result,
      createdAt: Date.parse(view.createdAt),
      updatedAt: Date.parse(view.updatedAt),
    };
    const row = this.#rows.get(view.jobId);
    if (!row) {
      this.#insert(incoming);
    } else if (isNewer(row.model, incoming.state, incoming.updatedAt, incoming.progress)) {
      const wasFinished = isFinished(row.model.state);
      // A re-run of a failed or cancelled job starts afresh (its record is re-created).
      row.model = {
        ...incoming,
        progress: stoppedAt(incoming.state, row.model.progress, incoming.progress),
        createdAt: Math.max(incoming.createdAt, row.model.createdAt),
      };
      this.#render(row);
      if (!wasFinished && isFinished(row.model.state)) this.#onFinished(row.model);
    }
    return this.#rows.get(view.jobId)?.model.state ?? view.state;
  }

  /** Applies a live event to a job already in the list. */
  apply(event: JobEvent): void {
    const row = this.#rows.get(event.jobId);
    if (!row) return;
    const state: JobState = event.state === 'progress' ? 'active' : event.state;
    const progress =
      event.state === 'completed' ? 1 : stoppedAt(event.state, row.model.progress, event.progress);
    if (!isNewer(row.model, state, event.ts, progress)) return;
    const model = row.model;
    const wasFinished = isFinished(model.state);
    model.state = state;
    model.progress = progress;
    model.updatedAt = event.ts;
    model.stage = event.stage;
    model.message = event.message;
    if (event.state === 'completed') model.result = event.result;
    if (event.state === 'failed') model.error = event.error;
    this.#render(row);
    if (!wasFinished && isFinished(state)) this.#onFinished(model);
  }

  /** Refreshes the "… ago" labels. */
  tick(): void {
    for (const row of this.#rows.values()) row.time.textContent = ago(row.model.updatedAt);
  }

  #insert(model: JobModel): void {
    const el = document.createElement('li');
    el.className = 'job entering';
    el.addEventListener('animationend', () => el.classList.remove('entering'), { once: true });
    el.dataset.jobId = model.jobId;

    const head = div('job-head');
    const kind = span('kind', model.kind);
    const title = span('job-title', titleOf(model));
    title.title = model.jobId;
    const state = span('state', '');
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.className = 'cancel';
    cancel.textContent = 'Cancel';
    cancel.setAttribute('aria-label', `Cancel job ${titleOf(model)}`);
    cancel.addEventListener('click', () => this.#onCancel(model.jobId, cancel));
    head.append(kind, title, state, cancel);

    const barRow = div('bar-row');
    const bar = div('bar');
    bar.setAttribute('role', 'progressbar');
    bar.setAttribute('aria-valuemin', '0');
    bar.setAttribute('aria-valuemax', '100');
    bar.setAttribute('aria-label', `Progress of ${titleOf(model)}`);
    const fill = div('bar-fill');
    bar.append(fill);
    const percent = span('percent', '');
    barRow.append(bar, percent);

    const detail = div('job-detail');
    const message = span('job-message', '');
    const time = span('job-time', '');
    detail.append(message, time);

    el.append(head, barRow, detail);
    const row: JobRow = { model, el, state, fill, bar, percent, message, time, cancel };
    this.#rows.set(model.jobId, row);

    // Newest first.
    const after = [...this.#rows.values()]
      .filter((other) => other !== row && other.model.createdAt <= model.createdAt)
      .sort((a, b) => b.model.createdAt - a.model.createdAt)[0];
    this.#list.insertBefore(el, after?.el.isConnected ? after.el : null);
    this.#trim();
    this.#render(row);
  }

  #render(row: JobRow): void {
    const { model } = row;
    const percent = Math.round(model.progress * 100);
    row.el.dataset.state = model.state;
    row.el.dataset.progress = String(percent);
    row.state.textContent = model.state;
    row.fill.style.width = `${percent}%`;
    row.bar.setAttribute('aria-valuenow', String(percent));
    row.percent.textContent = `${percent}%`;
    row.message.textContent = describe(model);
    row.time.textContent = ago(model.updatedAt);
    row.cancel.hidden = isFinished(model.state);
    row.el.hidden = !passes(this.#filter, model.state);
    this.#refreshSummary();
  }

  #trim(): void {
    const rows = [...this.#rows.values()].sort((a, b) => b.model.createdAt - a.model.createdAt);
    for (const row of rows.slice(this.#max)) {
      if (!isFinished(row.model.state)) continue;
      row.el.remove();
      this.#rows.delete(row.model.jobId);
    }
  }

  #refreshSummary(): void {
    const running = this.unfinished().length;
    const shown = [...this.#rows.values()].filter((row) => passes(this.#filter, row.model.state)).length;
    this.#empty.hidden = shown > 0;
    this.#empty.textContent =
      this.#rows.size === 0 ? 'No jobs yet. Ingest a document to start one.' : 'No jobs in this state.';
    // The count is of the rows on screen, so it always matches what a person can count.
    this.#count.textContent = this.#rows.size === 0 ? '' : `${shown} shown`;
    this.#tabCount.textContent = running > 0 ? `${running} running` : '';
  }
}

/** Whether an update is newer than what the row shows. A finished job changes only when re-run. */
function isNewer(current: JobModel, state: JobState, ts: number, progress: number): boolean {
  if (ts < current.updatedAt) return false;
  if (ts === current.updatedAt) {
    if (isFinished(current.state)) return false;
    if (!isFinished(state) && progress < current.progress) return false;
  }
  return true;
}

/** A cancelled or failed job keeps the progress it had reached, so the bar shows where it stopped. */
function stoppedAt(state: JobState | 'progress', shown: number, reported: number): number {
  return state === 'cancelled' || state === 'failed' ? Math.max(shown, reported) : reported;
}

function titleOf(model: JobModel): string {
  if (model.documentId)
    return model.collection && model.collection !== 'default'
      ? `${model.collection}/${model.documentId}`
      : model.documentId;
  return model.kind === 'embed' ? 'embedding batch' : model.jobId;
}

function describe(model: JobModel): string {
  switch (model.state) {
    case 'queued':
      return model.message ?? 'waiting for a worker';
    case 'active':
      return [model.stage, model.message].filter(Boolean).join(' · ') || 'running';
    case 'completed': {
      const result = model.result ?? {};
      const parts: string[] = [];
      if (typeof result.chunks === 'number')
        parts.push(`${result.chunks} chunk${result.chunks === 1 ? '' : 's'}`);
      if (typeof result.version === 'number') parts.push(`version ${result.version}`);
      if (typeof result.count === 'number') parts.push(`${result.count} texts`);
      if (result.deleted === true) parts.push('deleted');
      return parts.length > 0 ? `done · ${parts.join(' · ')}` : 'done';
    }
    case 'failed':
      return model.error ?? model.message ?? 'failed';
    case 'cancelled':
      return model.message ?? 'cancelled';
  }
}

function ago(ts: number): string {
  const seconds = Math.max(0, Math.round((Date.now() - ts) / 1000));
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return new Date(ts).toLocaleDateString();
}

function div(className: string): HTMLDivElement {
  const el = document.createElement('div');
  el.className = className;
  return el;
}

function span(className: string, text: string): HTMLSpanElement {
  const el = document.createElement('span');
  el.className = className;
  el.textContent = text;
  return el;
}
