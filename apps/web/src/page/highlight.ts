/**
 * Marks the query's words in a passage, as the full-text signal matched them: case-insensitive,
 * whole words or their inflections (`lamps` also marks `lamp`, `lamplighters` marks
 * `lamplighter`), the English stop words the index drops left unmarked. Built from text nodes and
 * `<mark>` elements, never HTML strings, so a passage cannot inject markup.
 */

// The same kind of words the full-text index drops: marking them would light up every line.
const STOP_WORDS = new Set(
  'a an and are as at be but by for from how in into is it of on or that the their then there these this to was what when where which who why will with'.split(
    ' ',
  ),
);

/** The stems of the query's words that a passage may contain. */
export function queryStems(query: string): string[] {
  const words = query.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const stems = words
    .filter((word) => !STOP_WORDS.has(word))
    .map((word) => (word.length > 4 ? word.replace(/(ing|ers|er|es|ed|s)$/, '') : word))
    .filter((stem) => stem.length >= 2);
  return [...new Set(stems)].sort((a, b) => b.length - a.length);
}

export function highlight(text: string, query: string): Node[] {
  const stems = queryStems(query);
  if (stems.length === 0) return [document.createTextNode(text)];
  const escaped = stems.map((stem) => stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}])(?:${escaped.join('|')})[\\p{L}\\p{N}]*`, 'giu');
  const nodes: Node[] = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) nodes.push(document.createTextNode(text.slice(last, match.index)));
    const mark = document.createElement('mark');
    mark.textContent = match[0];
    nodes.push(mark);
    last = match.index + match[0].length;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}
