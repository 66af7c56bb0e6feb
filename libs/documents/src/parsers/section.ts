import type { Section } from '../document.ts';

const NON_WHITESPACE = /\S/g;

/**
 * Builds the section for `text[start, end)` trimmed of surrounding whitespace, so chunk offsets
 * that start at a section start land on content. Returns `undefined` when the range is blank.
 */
export function trimmedSection(
  text: string,
  start: number,
  end: number,
  headingPath: string[],
): Section | undefined {
  NON_WHITESPACE.lastIndex = start;
  const first = NON_WHITESPACE.exec(text);
  if (first === null || first.index >= end) return undefined;
  let last = end;
  while (last > first.index && /\s/.test(text.charAt(last - 1))) last--;
  return { headingPath, text: text.slice(first.index, last), start: first.index, end: last };
}
