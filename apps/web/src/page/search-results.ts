import type { SearchOutput } from '@hopper/contracts';
import { highlight } from './highlight.ts';

export type SearchHit = SearchOutput['results'][number];

/**
 * Whether the hit contains the words searched for. The full-text signal found it
 * (`matched` includes `text`), or its passage has one of the query's words all the same: in hybrid
 * mode each signal brings its top 50 candidates, so in a collection where many chunks share the
 * words, one of them may come through the vector signal alone. A hit that has neither is merely
 * the nearest by embedding, which for a query of nonsense words is no match at all: the page says
 * so instead of presenting it as one.
 */
export function hasTermMatch(hit: SearchHit, query: string): boolean {
  // Servers before `matched` existed: nothing to tell by, so no label.
  if (hit.matched === undefined || hit.matched.includes('text')) return true;
  return highlight(hit.text, query).some((node) => node.nodeName === 'MARK');
}

/**
 * One result: its document (a button that opens it, when `onOpen` is given), heading path, page,
 * and the passage with the query's words marked.
 */
export function renderHit(
  hit: SearchHit,
  query: string,
  onOpen?: (documentId: string) => void,
): HTMLLIElement {
  const li = document.createElement('li');
  li.className = 'result';
  li.dataset.documentId = hit.documentId;
  const termMatch = hasTermMatch(hit, query);
  li.dataset.match = termMatch ? 'terms' : 'vector-only';

  const head = document.createElement('div');
  head.className = 'result-head';
  const open = document.createElement(onOpen ? 'button' : 'span');
  open.className = onOpen ? 'link result-doc' : 'result-doc';
  open.textContent = hit.documentId;
  if (onOpen && open instanceof HTMLButtonElement) {
    open.type = 'button';
    open.title = `Open ${hit.documentId}`;
    open.addEventListener('click', () => onOpen(hit.documentId));
  }
  const score = document.createElement('span');
  score.className = 'result-score';
  score.textContent = hit.score.toFixed(3);
  score.title = 'score (higher is better)';
  head.append(open);
  if (!termMatch) {
    const weak = document.createElement('span');
    weak.className = 'badge weak';
    weak.textContent = 'no exact term match';
    weak.title =
      'Found by meaning (vector similarity) only: the passage does not contain the words searched for.';
    head.append(weak);
  }
  head.append(score);
  li.append(head);

  const where = [...(hit.headingPath ?? []), ...(hit.page === undefined ? [] : [`page ${hit.page}`])];
  if (where.length > 0) {
    const path = document.createElement('p');
    path.className = 'result-path';
    path.textContent = where.join(' › ');
    li.append(path);
  }

  const text = document.createElement('p');
  text.className = 'result-text';
  text.append(...(termMatch ? highlight(hit.text, query) : [document.createTextNode(hit.text)]));
  li.append(text);
  return li;
}
