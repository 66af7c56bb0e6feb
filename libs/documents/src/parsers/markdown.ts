import type { TextFormatParser } from './format-parser.ts';
import { skipWhitespace } from '../boundaries.ts';
import { trimmedSection } from './section.ts';
import type { Section } from '../document.ts';

// Block syntax after CommonMark, reduced to what decides where headings are. The source text is
// kept as is: chunks embed the Markdown itself, so there is nothing to render. Every pattern is
// written to match in linear time: a document may hold a megabyte-long line.
const ATX_HEADING = /^ {0,3}(#{1,6})(?:[ \t](.*))?$/;
const FENCE_OPEN = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const FENCE_CLOSE = /^ {0,3}(`{3,}|~{3,})[ \t]*$/;
const SETEXT_UNDERLINE = /^ {0,3}(=+|-+)[ \t]*$/;
const THEMATIC_BREAK = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
// Lines that open a list item, block quote or HTML block. What follows them up to a blank line
// belongs to that block, so a `---` there is a thematic break, not a setext underline.
const CONTAINER_START =
  /^ {0,3}(?:[-+*](?:[ \t]|$)|\d{1,9}[.)](?:[ \t]|$)|>|<(?:[a-zA-Z][a-zA-Z0-9-]*|\/[a-zA-Z]|!--))/;
const INDENTED_CODE = /^(?: {4}|\t)/;
// YAML front matter would otherwise read as a setext heading (`title: x` underlined by `---`).
const FRONT_MATTER = /^---[ \t]*\n([\s\S]*?)\n(?:---|\.\.\.)[ \t]*(?:\n|$)/;
const FRONT_MATTER_TITLE = /^title:[ \t]*(.*?)[ \t]*$/m;

const MAX_HEADING_CHARS = 200;

const SNIFF_ATX = /^ {0,3}#{1,6}[ \t]+\S/m;
const SNIFF_FENCE = /^ {0,3}(?:`{3,}|~{3,})/m;
const SNIFF_SETEXT_H1 = /^[ \t]*\S[^\n]*\n {0,3}={3,}[ \t]*$/m;

interface Heading {
  /** Offset of the heading's first line (the text line of a setext heading). */
  start: number;
  level: number;
  text: string;
  /** Offset just past the heading's last line: where its body would start. */
  bodyStart: number;
}

/**
 * Markdown (CommonMark-style ATX `#` and setext `===`/`---` headings).
 *
 * Each heading starts a section that runs to the next heading of any level and includes the
 * heading line itself, so every character of the document lands in a section; text before the
 * first heading is a section with an empty path. The heading path is the stack of open headings:
 * a level-2 heading under a level-1 one gets `[h1, h2]`. Lines inside fenced code blocks, indented
 * code and YAML front matter are never headings, and headings with no text are ignored.
 *
 * Title: the first level-1 heading, else a `title:` in YAML front matter.
 */
export const markdownParser: TextFormatParser<'text/markdown'> = {
  kind: 'text',
  mediaType: 'text/markdown',
  aliases: ['text/x-markdown', 'text/md'],
  extensions: ['.md', '.markdown', '.mdown', '.mkd'],
  sniff({ text }) {
    return SNIFF_ATX.test(text) || SNIFF_FENCE.test(text) || SNIFF_SETEXT_H1.test(text);
  },
  parse(text) {
    const frontMatter = FRONT_MATTER.exec(text);
    const headings = findHeadings(text, frontMatter?.[0].length ?? 0);
    const title = headings.find((heading) => heading.level === 1)?.text ?? frontMatterTitle(frontMatter?.[1]);
    return { ...(title === undefined ? {} : { title }), sections: toSections(text, headings) };
  },
};

function findHeadings(text: string, from: number): Heading[] {
  const headings: Heading[] = [];
  let fence: { char: string; length: number } | undefined;
  let block: 'none' | 'paragraph' | 'container' = 'none';
  let paragraphStart = 0;
  let paragraphLines: string[] = [];

  for (let lineStart = from; lineStart < text.length;) {
    const newline = text.indexOf('\n', lineStart);
    const lineEnd = newline === -1 ? text.length : newline;
    const line = text.slice(lineStart, lineEnd);
    const start = lineStart;
    lineStart = lineEnd + 1;

    if (fence !== undefined) {
      const close = FENCE_CLOSE.exec(line)?.[1];
      if (close !== undefined && close[0] === fence.char && close.length >= fence.length) fence = undefined;
      continue;
    }
    if (line.trim() === '') {
      block = 'none';
      continue;
    }
    const open = FENCE_OPEN.exec(line);
    // A backtick fence's info string may not contain backticks (that is inline code instead).
    if (open?.[1] !== undefined && !(open[1][0] === '`' && (open[2] ?? '').includes('`'))) {
      fence = { char: open[1][0] ?? '`', length: open[1].length };
      block = 'none';
      continue;
    }
    const atx = ATX_HEADING.exec(line);
    if (atx?.[1] !== undefined) {
      addHeading(headings, start, lineStart, atx[1].length, withoutClosingHashes((atx[2] ?? '').trim()));
      block = 'none';
      continue;
    }
    const underline = block === 'paragraph' ? SETEXT_UNDERLINE.exec(line)?.[1] : undefined;
    if (underline !== undefined) {
      addHeading(headings, paragraphStart, lineStart, underline[0] === '=' ? 1 : 2, paragraphLines.join(' '));
      block = 'none';
      continue;
    }
    if (THEMATIC_BREAK.test(line)) {
      block = 'none';
    } else if (CONTAINER_START.test(line)) {
      block = 'container';
    } else if (block === 'paragraph') {
      paragraphLines.push(line.trim());
    } else if (block === 'none' && !INDENTED_CODE.test(line)) {
      block = 'paragraph';
      paragraphStart = start;
      paragraphLines = [line.trim()];
    }
  }
  return headings;
}

/** `Title ##` → `Title`; `C#` stays, since closing hashes must follow a space. */
function withoutClosingHashes(content: string): string {
  let end = content.length;
  while (end > 0 && content[end - 1] === '#') end--;
  if (end === 0) return '';
  const before = content[end - 1];
  return end < content.length && (before === ' ' || before === '\t')
    ? content.slice(0, end).trimEnd()
    : content;
}

function addHeading(headings: Heading[], start: number, bodyStart: number, level: number, raw: string): void {
  const text = plainHeadingText(raw);
  if (text !== '') headings.push({ start, level, text, bodyStart });
}

function toSections(text: string, headings: readonly Heading[]): Section[] {
  const sections: Section[] = [];
  const preamble = trimmedSection(text, 0, headings[0]?.start ?? text.length, []);
  if (preamble !== undefined) sections.push(preamble);

  const open: Heading[] = [];
  headings.forEach((heading, i) => {
    while (open.length > 0 && (open.at(-1)?.level ?? 0) >= heading.level) open.pop();
    open.push(heading);
    const end = headings[i + 1]?.start ?? text.length;
    const section = trimmedSection(
      text,
      heading.start,
      end,
      open.map((h) => h.text),
    );
    if (section === undefined) return;
    // A heading without a body may share a chunk with its neighbours (see chunkDocument): a
    // document of 200,000 one-line headings is then ~2,000 chunks, not 200,000.
    if (skipWhitespace(text, Math.min(heading.bodyStart, end), end) >= end) section.packable = true;
    sections.push(section);
  });
  return sections;
}

/**
 * Heading paths are shown to people and embedded with every chunk, so inline markup that only
 * adds noise (link targets, code ticks, emphasis markers, escapes) is dropped, and a runaway
 * heading (a long paragraph with `---` under it) is shortened.
 */
function plainHeadingText(raw: string): string {
  const text = raw
    .slice(0, MAX_HEADING_CHARS * 4)
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`+([^`]*?)`+/g, '$1')
    .replace(/(\*\*|__)(?=\S)(.+?)(?<=\S)\1/g, '$2')
    .replace(/(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])/g, '$1')
    .replace(/(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])/g, '$1')
    .replace(/\\([!-/:-@[-`{-~])/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
  if (text.length <= MAX_HEADING_CHARS) return text;
  const cut = text.lastIndexOf(' ', MAX_HEADING_CHARS - 1);
  return `${text.slice(0, cut > 0 ? cut : MAX_HEADING_CHARS - 1)}…`;
}

function frontMatterTitle(yaml: string | undefined): string | undefined {
  const value = yaml === undefined ? undefined : FRONT_MATTER_TITLE.exec(yaml)?.[1];
  const title = value?.replace(/^(["'])(.*)\1$/, '$2').trim();
  return title === undefined || title === '' ? undefined : title;
}
