import { io, type Socket } from 'socket.io-client';
import type { CancelAck, ClientToServerEvents, JobView, ServerToClientEvents } from '@hopper/contracts';
import { ApiError, ingest, search, type IngestRequest } from './api.ts';
import { JobList, isFinished, type JobEvent } from './job-list.ts';
import './styles.css';

/** Base64 of at most this many characters (the server's `contentBase64` limit, ~3 MB of bytes). */
const MAX_BASE64_CHARS = 4_000_000;
const RECENT_JOBS = 30;

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el as T;
};

// Same origin, WebSocket only (as the gateway serves it): no polling fallback to keep sticky.
const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io({
  path: '/socket.io',
  transports: ['websocket'],
});

/** Jobs this socket follows; the server ends a subscription with the job's terminal event. */
const followed = new Set<string>();

const jobs = new JobList({
  list: $<HTMLOListElement>('jobs-list'),
  empty: $('jobs-empty'),
  count: $('jobs-count'),
  onCancel: (jobId, button) => void cancel(jobId, button),
});

function follow(jobId: string): void {
  if (followed.has(jobId) || !socket.connected) return;
  followed.add(jobId);
  socket.emit('subscribe', { jobId }, (answer) => {
    if (answer.ok) return;
    followed.delete(jobId);
    // Over the socket's event rate (many jobs appearing at once): follow it when the server says.
    const { code, retryAfterSeconds } = answer.error;
    if (code === 'busy' && retryAfterSeconds) setTimeout(() => follow(jobId), retryAfterSeconds * 1000);
  });
}

/** Adds or updates a job and follows it while it runs. */
function show(view: JobView): void {
  const state = jobs.upsert(view);
  if (!isFinished(state)) follow(view.jobId);
}

function onJobEvent(event: JobEvent): void {
  jobs.apply(event);
  if (event.state !== 'progress' && isFinished(event.state)) followed.delete(event.jobId);
}

socket.on('connect', () => {
  setConnection('live', 'live');
  followed.clear();
  socket.emit('subscribe', { feed: 'jobs', limit: RECENT_JOBS }, (answer) => {
    if (!answer.ok) return toast(`Could not load jobs: ${answer.error.message}`);
    for (const view of [...(answer.jobs ?? [])].reverse()) show(view);
    // Jobs shown before a reconnect that are still running: follow them again.
    for (const jobId of jobs.unfinished()) follow(jobId);
  });
});
socket.on('disconnect', () => setConnection('offline', 'reconnecting…'));
socket.on('connect_error', (error) => setConnection('offline', `offline: ${error.message}`));
socket.on('jobs', ({ job }) => show(job));
socket.on('job:progress', onJobEvent);
socket.on('job:completed', onJobEvent);
socket.on('job:failed', onJobEvent);
socket.on('job:cancelled', onJobEvent);

async function cancel(jobId: string, button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  button.textContent = 'Cancelling…';
  // The server answers once the job has stopped (a running job stops at its next batch).
  const answer = await new Promise<CancelAck | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), 15_000);
    socket.emit('cancel', { jobId }, (reply) => {
      clearTimeout(timer);
      resolve(reply);
    });
  });
  if (!answer) toast('The server did not answer the cancel in time; the job may still stop.');
  else if (!answer.ok) toast(answer.error.message);
  button.disabled = false;
  button.textContent = 'Cancel';
}

function setConnection(status: 'live' | 'offline', label: string): void {
  const el = $('connection');
  el.dataset.status = status;
  el.querySelector('.label')!.textContent = label;
}

let toastTimer: ReturnType<typeof setTimeout> | undefined;
function toast(message: string): void {
  const el = $('toast');
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 6_000);
}

// ---- Ingest: paste text or upload a file ----

const tabText = $<HTMLButtonElement>('tab-text');
const tabFile = $<HTMLButtonElement>('tab-file');
const fileInput = $<HTMLInputElement>('ingest-file');
const ingestStatus = $('ingest-status');
let mode: 'text' | 'file' = 'text';

function selectTab(next: 'text' | 'file'): void {
  mode = next;
  tabText.setAttribute('aria-selected', String(next === 'text'));
  tabFile.setAttribute('aria-selected', String(next === 'file'));
  $('panel-text').hidden = next !== 'text';
  $('panel-file').hidden = next !== 'file';
}
tabText.addEventListener('click', () => selectTab('text'));
tabFile.addEventListener('click', () => selectTab('file'));

fileInput.addEventListener('change', () => {
  $('file-label').textContent = fileInput.files?.[0]?.name ?? 'Choose a file or drop it here';
});
const dropzone = $('dropzone');
dropzone.addEventListener('dragover', (event) => {
  event.preventDefault();
  dropzone.classList.add('dragging');
});
dropzone.addEventListener('dragleave', () => dropzone.classList.remove('dragging'));
dropzone.addEventListener('drop', (event) => {
  event.preventDefault();
  dropzone.classList.remove('dragging');
  if (event.dataTransfer?.files.length) {
    fileInput.files = event.dataTransfer.files;
    fileInput.dispatchEvent(new Event('change'));
  }
});

$<HTMLFormElement>('ingest-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void submitIngest();
});

async function submitIngest(): Promise<void> {
  const submit = $<HTMLButtonElement>('ingest-submit');
  const documentId = $<HTMLInputElement>('ingest-id').value.trim();
  const collection = $<HTMLInputElement>('ingest-collection').value.trim();
  const request: IngestRequest = {
    ...(documentId ? { documentId } : {}),
    ...(collection ? { collection } : {}),
  };
  if (mode === 'text') {
    const content = $<HTMLTextAreaElement>('ingest-text').value;
    if (!content.trim()) return status(ingestStatus, 'Paste some text first.', true);
    request.content = content;
  } else {
    const file = fileInput.files?.[0];
    if (!file) return status(ingestStatus, 'Choose a file first.', true);
    const base64 = await readBase64(file);
    if (base64.length > MAX_BASE64_CHARS) {
      return status(ingestStatus, `${file.name} is larger than the 3 MB this page can send.`, true);
    }
    request.contentBase64 = base64;
    request.title = file.name;
    const mediaType = mediaTypeOf(file);
    if (mediaType) request.mediaType = mediaType;
  }
  submit.disabled = true;
  status(ingestStatus, 'Sending…');
  try {
    const handle = await ingest(request);
    status(ingestStatus, `Queued ${handle.documentId}.`);
    const now = new Date().toISOString();
    // Shown at once; the feed and the job's own events bring the rest.
    show({
      jobId: handle.jobId,
      kind: 'ingest',
      documentId: handle.documentId,
      state: handle.state,
      progress: handle.state === 'completed' ? 1 : 0,
      createdAt: now,
      updatedAt: now,
      ...(collection ? { collection } : {}),
    });
    if (mode === 'text') $<HTMLTextAreaElement>('ingest-text').value = '';
  } catch (error) {
    status(
      ingestStatus,
      error instanceof ApiError ? error.message : 'The server could not be reached.',
      true,
    );
  } finally {
    submit.disabled = false;
  }
}

function readBase64(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () =>
      resolve(typeof reader.result === 'string' ? reader.result.replace(/^data:[^,]*,/, '') : '');
    reader.onerror = () => reject(reader.error ?? new Error('the file could not be read'));
    reader.readAsDataURL(file);
  });
}

function mediaTypeOf(file: File): string | undefined {
  const name = file.name.toLowerCase();
  if (name.endsWith('.md') || name.endsWith('.markdown')) return 'text/markdown';
  if (name.endsWith('.txt')) return 'text/plain';
  return file.type || undefined;
}

// ---- Search ----

const searchStatus = $('search-status');
$<HTMLFormElement>('search-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void runSearch();
});

async function runSearch(): Promise<void> {
  const query = $<HTMLInputElement>('search-query').value.trim();
  const collection = $<HTMLInputElement>('search-collection').value.trim() || undefined;
  const results = $<HTMLOListElement>('search-results');
  if (!query) return status(searchStatus, 'Type what to look for.', true);
  const submit = $<HTMLButtonElement>('search-submit');
  submit.disabled = true;
  status(searchStatus, 'Searching…');
  const started = performance.now();
  try {
    const output = await search(query, 5, collection);
    const ms = Math.round(performance.now() - started);
    results.replaceChildren(
      ...output.results.map((hit) => {
        const li = document.createElement('li');
        li.className = 'result';
        const head = document.createElement('div');
        head.className = 'result-head';
        const doc = document.createElement('span');
        doc.className = 'result-doc';
        doc.textContent = hit.documentId;
        const score = document.createElement('span');
        score.className = 'result-score';
        score.textContent = hit.score.toFixed(3);
        head.append(doc, score);
        const text = document.createElement('p');
        text.className = 'result-text';
        text.textContent = hit.text;
        li.append(head, text);
        return li;
      }),
    );
    const count = output.results.length;
    status(
      searchStatus,
      count === 0 ? 'No matches.' : `${count} result${count === 1 ? '' : 's'} in ${ms} ms`,
    );
  } catch (error) {
    results.replaceChildren();
    status(
      searchStatus,
      error instanceof ApiError ? error.message : 'The server could not be reached.',
      true,
    );
  } finally {
    submit.disabled = false;
  }
}

function status(el: HTMLElement, text: string, error = false): void {
  el.textContent = text;
  el.classList.toggle('error', error);
}

setInterval(() => jobs.tick(), 5_000);
