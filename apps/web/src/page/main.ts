import { io, type Socket } from 'socket.io-client';
import type {
  CancelAck,
  ClientToServerEvents,
  DocumentView,
  JobView,
  ServerToClientEvents,
} from '@hopper/contracts';
import {
  ApiError,
  deleteDocument,
  getDocument,
  ingest,
  listDocuments,
  search,
  type IngestRequest,
} from './api.ts';
import { ChunkList } from './chunk-list.ts';
import { confirmAction } from './confirm.ts';
import { DocumentsView } from './documents.ts';
import { idFromFileName, idFromText } from './ids.ts';
import { JobList, isFinished, type JobEvent, type JobFilter } from './job-list.ts';
import { renderHit, type SearchHit } from './search-results.ts';
import './styles.css';

/** Base64 of at most this many characters (the server's `contentBase64` limit, ~3 MB of bytes). */
const MAX_BASE64_CHARS = 4_000_000;
/** Jobs the list loads and keeps (running ones are never dropped). */
const RECENT_JOBS = 30;
/** Documents the documents view lists (the API's largest page). */
const DOCUMENTS_SHOWN = 100;
const TOP_K = 5;

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
  tabCount: $('jobs-tab-count'),
  max: RECENT_JOBS,
  onCancel: (jobId, button) => void cancel(jobId, button),
  // A finished ingest or delete changes the documents: list them again.
  onFinished: ({ state, kind }) => {
    if (state === 'completed' && kind !== 'embed') refreshDocumentsSoon();
  },
});

// ---- Views: documents and jobs ----

const viewTabs = {
  documents: $<HTMLButtonElement>('view-documents'),
  jobs: $<HTMLButtonElement>('view-jobs'),
};
function selectView(view: 'documents' | 'jobs'): void {
  for (const [name, tab] of Object.entries(viewTabs)) {
    tab.setAttribute('aria-selected', String(name === view));
    $(`panel-${name}`).hidden = name !== view;
  }
}
viewTabs.documents.addEventListener('click', () => selectView('documents'));
viewTabs.jobs.addEventListener('click', () => selectView('jobs'));

const filterButtons = Array.from(document.querySelectorAll<HTMLButtonElement>('.filters .filter'));
for (const button of filterButtons) {
  button.addEventListener('click', () => {
    for (const other of filterButtons) other.setAttribute('aria-pressed', String(other === button));
    jobs.filter(button.dataset.filter as JobFilter);
  });
}

const documents = new DocumentsView({
  list: $<HTMLUListElement>('documents-list'),
  empty: $('documents-empty'),
  count: $('documents-count'),
  tabCount: $('documents-tab-count'),
  browse: $('documents-browse'),
  detail: $('document-detail'),
  onOpen: (doc) => openDocument(doc),
});

const chunkList = new ChunkList({
  list: $<HTMLOListElement>('chunk-list'),
  status: $('chunk-status'),
  more: $<HTMLButtonElement>('chunk-more'),
});

async function refreshDocuments(): Promise<void> {
  try {
    const page = await listDocuments(DOCUMENTS_SHOWN);
    documents.show(page.documents, page.nextCursor !== undefined);
    // The document shown may have changed (a new version) or gone.
    const current = documents.current;
    if (current) {
      const now = documents.find(current.documentId, current.collection);
      if (now) {
        documents.detail(now);
        // A new version has other chunks: its list starts again.
        chunkList.show(now);
      } else documents.browse();
    }
  } catch (error) {
    toast(
      `Could not list documents: ${error instanceof ApiError ? error.message : 'the server could not be reached'}`,
    );
  }
}

/** A burst of finished jobs (a batch, many clients) lists the documents once, not once per job. */
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
function refreshDocumentsSoon(): void {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => void refreshDocuments(), 250);
}

/** The last search, kept to show a document's passages from it. */
let lastSearch: { query: string; collection: string; hits: SearchHit[] } | undefined;

function openDocument(doc: DocumentView): void {
  selectView('documents');
  documents.detail(doc);
  // Hits name their document by id; the search covered one collection.
  const hits =
    lastSearch?.collection === doc.collection
      ? lastSearch.hits.filter((hit) => hit.documentId === doc.documentId)
      : [];
  const note = $('document-chunks-note');
  note.textContent =
    hits.length > 0
      ? `${hits.length} of its ${chunks(doc.chunks)} matched “${lastSearch!.query}”.`
      : lastSearch
        ? `None of its ${chunks(doc.chunks)} was among the results for “${lastSearch.query}”. Search to see its passages.`
        : `${chunks(doc.chunks)}. Search to see the passages that match.`;
  $('document-chunks').replaceChildren(...hits.map((hit) => renderHit(hit, lastSearch!.query)));
  chunkList.show(doc);
  $('document-detail').scrollIntoView({ block: 'nearest' });
}

/** Opens a document named by a search result (its collection is the one searched). */
async function openDocumentById(documentId: string, collection: string | undefined): Promise<void> {
  try {
    const doc =
      documents.find(documentId, collection ?? 'default') ?? (await getDocument(documentId, collection));
    if (!doc) return toast(`${documentId} is no longer stored.`);
    openDocument(doc);
  } catch (error) {
    toast(error instanceof ApiError ? error.message : 'The server could not be reached.');
  }
}

$('document-back').addEventListener('click', () => documents.browse());
$('document-delete').addEventListener('click', () => void removeDocument());

async function removeDocument(): Promise<void> {
  const doc = documents.current;
  if (!doc) return;
  const sure = await confirmAction({
    title: `Delete ${doc.documentId}?`,
    text: `The document and its ${chunks(doc.chunks)} leave the search index of “${doc.collection}”. This cannot be undone.`,
    confirm: 'Delete',
  });
  if (!sure) return;
  try {
    const answer = await deleteDocument(doc.documentId, doc.collection);
    toast(answer.deleted ? `Deleted ${doc.documentId}.` : `${doc.documentId} was already gone.`);
    documents.browse();
    await refreshDocuments();
  } catch (error) {
    toast(error instanceof ApiError ? error.message : 'The server could not be reached.');
  }
}

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
tabText.addEventListener('click', () => {
  selectTab('text');
  proposeId();
});
tabFile.addEventListener('click', () => {
  selectTab('file');
  proposeId();
});

fileInput.addEventListener('change', () => {
  $('file-label').textContent = fileInput.files?.[0]?.name ?? 'Choose a file or drop it here';
  proposeId();
});
$('ingest-text').addEventListener('input', () => proposeId());

/** The id the document gets when the field is left empty: from the file's name or the text's title. */
function derivedId(): string | undefined {
  if (mode === 'file') {
    const file = fileInput.files?.[0];
    return file ? idFromFileName(file.name) : undefined;
  }
  return idFromText($<HTMLTextAreaElement>('ingest-text').value);
}
function proposeId(): void {
  $<HTMLInputElement>('ingest-id').placeholder = derivedId() ?? 'from the file or title';
}
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
  const idField = $<HTMLInputElement>('ingest-id');
  const documentId = idField.value.trim() || derivedId();
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
  try {
    // Ingesting an existing id replaces that document: never silently.
    if (documentId) {
      status(ingestStatus, 'Checking the id…');
      const existing = await getDocument(documentId, collection || undefined);
      if (existing) {
        const sure = await confirmAction({
          title: `Replace ${documentId}?`,
          text: `A document with this id is already stored (${existing.title || existing.documentId}, ${chunks(existing.chunks)}, version ${existing.version}). Ingesting replaces it. To keep both, give this one another id.`,
          confirm: 'Replace',
        });
        if (!sure) {
          status(ingestStatus, `Not sent: ${documentId} is kept as it was.`);
          idField.focus();
          return;
        }
      }
    }
    status(ingestStatus, 'Sending…');
    const handle = await ingest(request);
    status(ingestStatus, `Queued ${handle.documentId}.`);
    // Its progress is what the person wants to see next.
    selectView('jobs');
    filterButtons.find((button) => button.dataset.filter === 'all')?.click();
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
    // On a phone the jobs view is below the form: bring the new job's row into sight.
    document
      .querySelector(`.job[data-job-id="${CSS.escape(handle.jobId)}"]`)
      ?.scrollIntoView({ block: 'nearest' });
    // The next document is another one: its id must not carry over and replace this one.
    idField.value = '';
    if (mode === 'text') $<HTMLTextAreaElement>('ingest-text').value = '';
    else {
      fileInput.value = '';
      $('file-label').textContent = 'Choose a file or drop it here';
    }
    proposeId();
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
    const output = await search(query, TOP_K, collection);
    const ms = Math.round(performance.now() - started);
    lastSearch = { query, collection: collection ?? 'default', hits: output.results };
    results.replaceChildren(
      ...output.results.map((hit) => renderHit(hit, query, (id) => void openDocumentById(id, collection))),
    );
    const count = output.results.length;
    const exact = results.querySelectorAll('.result[data-match="terms"]').length;
    status(
      searchStatus,
      count === 0
        ? 'No matches.'
        : exact === 0
          ? `No passage contains these words. ${count} nearest by meaning, in ${ms} ms:`
          : `${count} result${count === 1 ? '' : 's'} in ${ms} ms`,
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

function chunks(count: number): string {
  return `${count} chunk${count === 1 ? '' : 's'}`;
}

function status(el: HTMLElement, text: string, error = false): void {
  el.textContent = text;
  el.classList.toggle('error', error);
}

setInterval(() => jobs.tick(), 5_000);
void refreshDocuments();
