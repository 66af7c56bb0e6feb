import type { SearchOutput } from '@hopper/contracts';
import { highlight } from './highlight.ts';

export type SearchHit = SearchOutput['results'][number];

/**
 * Whether the full-text signal found the hit: it shares words with the query. A hit found only by
 * the vector signal (`matched: ["vector"]`) is merely the nearest by embedding, which for a query
 * of nonsense words is no match at all, so the page says so instead of presenting it as one.
 */
export function hasTermMatch(hit: SearchHit): boolean {
  // Servers before `matched` existed: nothing to tell by, so no label.
  return hit.matched === undefined || hit.matched.includes('text');
}

/** One result: document (a button that opens it), heading path, page, the passage with the query's words marked. */
export function renderHit(
  hit: SearchHit,
  query: string,
  onOpen: (documentId: string) => void,
): HTMLLIElement {
  const li = document.createElement('li');
  li.className = 'result';
  li.dataset.documentId = hit.documentId;
  const termMatch = hasTermMatch(hit);
  li.dataset.match = termMatch ? 'terms' : 'vector-only';

  const head = document.createElement('div');
  head.className = 'result-head';
  const open = document.createElement('button');
  open.type = 'button';
  open.className = 'link result-doc';
  open.textContent = hit.documentId;
  open.title = `Open ${hit.documentId}`;
  open.addEventListener('click', () => onOpen(hit.documentId));
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
