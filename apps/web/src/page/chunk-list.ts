import type { ChunkView, DocumentView } from '@hopper/contracts';
import { ApiError, listChunks } from './api.ts';

/** Chunks fetched per page: a first look, and each "Load more". */
const PAGE = 20;

/**
 * A document's chunks in the documents view: its current version's chunks in order, a page at a
 * time, with "Load more". A document replaced meanwhile (a new version listed, or a cursor the
 * server refuses because the version it pointed into is gone) is shown again from its first chunk.
 */
export class ChunkList {
  readonly #list: HTMLOListElement;
  readonly #status: HTMLElement;
  readonly #more: HTMLButtonElement;
  /** The document and version shown, and where its next page starts. */
  #shown: { documentId: string; collection: string; version: number } | undefined;
  #cursor: string | undefined;
  #count = 0;
  #total: number | undefined;
  /** Bumped whenever another document (or version) is shown: answers for an older one are dropped. */
  #generation = 0;

  constructor(options: { list: HTMLOListElement; status: HTMLElement; more: HTMLButtonElement }) {
    this.#list = options.list;
    this.#status = options.status;
    this.#more = options.more;
    this.#more.addEventListener('click', () => void this.#load());
  }

  /** Shows the document's chunks from the first, unless this version is shown already. */
  show(doc: DocumentView): void {
    const shown = this.#shown;
    if (
      shown?.documentId === doc.documentId &&
      shown.collection === doc.collection &&
      shown.version === doc.version
    ) {
      return;
    }
    this.#restart(doc.documentId, doc.collection, doc.version);
    void this.#load();
  }

  #restart(documentId: string, collection: string, version: number): void {
    this.#generation++;
    this.#shown = { documentId, collection, version };
    this.#cursor = undefined;
    this.#count = 0;
    this.#list.replaceChildren();
    this.#more.hidden = true;
  }

  async #load(): Promise<void> {
    const shown = this.#shown;
    if (!shown) return;
    const generation = this.#generation;
    this.#more.disabled = true;
    this.#setStatus(
      this.#count === 0 ? 'Loading chunks…' : `Loading more of ${this.#total ?? 'its'} chunks…`,
    );
    try {
      const page = await listChunks(shown.documentId, shown.collection, PAGE, this.#cursor);
      if (generation !== this.#generation) return;
      if (page.version !== shown.version) {
        // A newer version than the one the view named: its chunks start again from the first.
        if (this.#cursor !== undefined) return this.#reload(shown, page.version);
        shown.version = page.version;
      }
      this.#list.append(...page.chunks.map((chunk) => renderChunk(chunk)));
      this.#count += page.chunks.length;
      this.#total = page.totalChunks;
      this.#cursor = page.nextCursor;
      this.#more.hidden = page.nextCursor === undefined;
      // Said at the button too: after a few pages the status line is far above it.
      this.#more.textContent = `Load more · ${this.#count} of ${page.totalChunks} shown`;
      this.#setStatus(
        page.nextCursor === undefined
          ? `All ${chunkCount(page.totalChunks)} of version ${page.version}, in order.`
          : `Chunks 1-${this.#count} of ${page.totalChunks} (version ${page.version}), in order.`,
      );
    } catch (error) {
      if (generation !== this.#generation) return;
      // The server refuses a cursor into a version that was replaced: show the new one.
      if (error instanceof ApiError && error.status === 400 && this.#cursor !== undefined) {
        return this.#reload(shown, undefined);
      }
      this.#setStatus(
        `Could not load the chunks: ${error instanceof ApiError ? error.message : 'the server could not be reached'}`,
        true,
      );
      // Nothing shown yet: opening the document again tries again (Load more retries the rest).
      if (this.#count === 0) this.#shown = undefined;
    } finally {
      if (generation === this.#generation) this.#more.disabled = false;
    }
  }

  #reload(shown: { documentId: string; collection: string }, version: number | undefined): Promise<void> {
    this.#restart(shown.documentId, shown.collection, version ?? 0);
    return this.#load().then(() => {
      const status = this.#status.textContent ?? '';
      if (!this.#status.classList.contains('error')) {
        this.#setStatus(`The document was replaced: showing its new version. ${status}`);
      }
    });
  }

  #setStatus(text: string, error = false): void {
    this.#status.textContent = text;
    this.#status.classList.toggle('error', error);
  }
}

function chunkCount(count: number): string {
  return `${count} chunk${count === 1 ? '' : 's'}`;
}

/** One chunk: its position, where it sits (headings, page, characters) and its whole text. */
function renderChunk(chunk: ChunkView): HTMLLIElement {
  const li = document.createElement('li');
  li.className = 'chunk';
  li.dataset.index = String(chunk.index);
  li.dataset.chunkId = chunk.chunkId;

  const head = document.createElement('div');
  head.className = 'chunk-head';
  const position = document.createElement('span');
  position.className = 'chunk-position';
  position.textContent = `#${chunk.index + 1}`;
  const where = document.createElement('span');
  where.className = 'chunk-where';
  where.textContent = [
    ...(chunk.headingPath.length > 0 ? [chunk.headingPath.join(' › ')] : []),
    ...(chunk.page === undefined ? [] : [`page ${chunk.page}`]),
  ].join(' · ');
  const offsets = document.createElement('span');
  offsets.className = 'chunk-offsets';
  offsets.textContent = `characters ${chunk.start.toLocaleString()}-${chunk.end.toLocaleString()}`;
  head.append(position, where, offsets);

  const text = document.createElement('p');
  text.className = 'chunk-text';
  text.textContent = chunk.text;
  li.append(head, text);
  return li;
}
