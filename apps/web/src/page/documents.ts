import type { DocumentView } from '@hopper/contracts';

/**
 * The documents view: every document (newest change first) and, for one of them, its details. It
 * only renders; loading, deleting and opening go through the callbacks main.ts gives it.
 */
export class DocumentsView {
  readonly #list: HTMLUListElement;
  readonly #empty: HTMLElement;
  readonly #count: HTMLElement;
  readonly #tabCount: HTMLElement;
  readonly #browse: HTMLElement;
  readonly #detail: HTMLElement;
  readonly #onOpen: (doc: DocumentView) => void;
  #documents: DocumentView[] = [];
  /** The document whose details are shown, if any. */
  current: DocumentView | undefined;

  constructor(options: {
    list: HTMLUListElement;
    empty: HTMLElement;
    count: HTMLElement;
    tabCount: HTMLElement;
    browse: HTMLElement;
    detail: HTMLElement;
    onOpen: (doc: DocumentView) => void;
  }) {
    this.#list = options.list;
    this.#empty = options.empty;
    this.#count = options.count;
    this.#tabCount = options.tabCount;
    this.#browse = options.browse;
    this.#detail = options.detail;
    this.#onOpen = options.onOpen;
  }

  find(documentId: string, collection?: string): DocumentView | undefined {
    return this.#documents.find(
      (doc) => doc.documentId === documentId && (collection === undefined || doc.collection === collection),
    );
  }

  /** Shows the documents given (one page of the API's list), newest change first. */
  show(documents: DocumentView[], more: boolean): void {
    this.#documents = [...documents].sort((a, b) => Date.parse(b.updatedAt) - Date.parse(a.updatedAt));
    this.#list.replaceChildren(...this.#documents.map((doc) => this.#row(doc)));
    this.#empty.hidden = documents.length > 0;
    const shown = `${documents.length}${more ? '+' : ''}`;
    this.#count.textContent = documents.length === 0 ? '' : `${shown} shown`;
    this.#tabCount.textContent = documents.length === 0 ? '' : shown;
  }

  /** Back to the list. */
  browse(): void {
    this.current = undefined;
    this.#detail.hidden = true;
    this.#browse.hidden = false;
  }

  /** Shows one document's details in place of the list. */
  detail(doc: DocumentView): void {
    this.current = doc;
    this.#browse.hidden = true;
    this.#detail.hidden = false;
    this.#detail.querySelector('#document-title')!.textContent = doc.title || doc.documentId;
    const fields: [string, string][] = [
      ['Id', doc.documentId],
      ['Collection', doc.collection],
      ['Type', doc.mediaType],
      ['Chunks', String(doc.chunks)],
      ['Version', String(doc.version)],
      ['Added', new Date(doc.createdAt).toLocaleString()],
      ['Updated', new Date(doc.updatedAt).toLocaleString()],
      ...Object.entries(doc.metadata).map(([key, value]): [string, string] => [key, String(value)]),
    ];
    this.#detail.querySelector('#document-fields')!.replaceChildren(
      ...fields.flatMap(([name, value]) => {
        const dt = document.createElement('dt');
        dt.textContent = name;
        const dd = document.createElement('dd');
        dd.textContent = value;
        dd.dataset.field = name.toLowerCase();
        return [dt, dd];
      }),
    );
  }

  #row(doc: DocumentView): HTMLLIElement {
    const li = document.createElement('li');
    li.className = 'doc';
    li.dataset.documentId = doc.documentId;
    li.dataset.collection = doc.collection;
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'doc-open';
    const name = document.createElement('span');
    name.className = 'doc-id';
    name.textContent = doc.collection === 'default' ? doc.documentId : `${doc.collection}/${doc.documentId}`;
    const about = document.createElement('span');
    about.className = 'doc-about';
    about.textContent = [
      doc.title && doc.title !== doc.documentId ? doc.title : undefined,
      `${doc.chunks} chunk${doc.chunks === 1 ? '' : 's'}`,
      `v${doc.version}`,
    ]
      .filter(Boolean)
      .join(' · ');
    open.append(name, about);
    open.addEventListener('click', () => this.#onOpen(doc));
    li.append(open);
    return li;
  }
}
