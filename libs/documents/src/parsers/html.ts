import { isTag, isText, type AnyNode, type Element } from 'domhandler';
import { DocumentError } from '../errors.ts';
import { blocksToText, headingText, type Block } from './blocks.ts';
import type { TextFormatParser } from './format-parser.ts';

// Never content: code, styling, embedded objects, and page furniture (navigation, banners, side
// bars, forms). Headers and footers count as furniture only outside <main> and <article>, where
// they hold a page's banner; inside an article they hold its own title and byline.
const SKIPPED = new Set([
  'head',
  'script',
  'style',
  'noscript',
  'template',
  'svg',
  'math',
  'canvas',
  'iframe',
  'object',
  'embed',
  'video',
  'audio',
  'picture',
  'map',
  'nav',
  'aside',
  'form',
  'button',
  'select',
  'textarea',
  'input',
  'dialog',
  'menu',
]);
const FURNITURE = new Set(['header', 'footer']);
const SKIPPED_ROLES = new Set([
  'navigation',
  'banner',
  'contentinfo',
  'complementary',
  'search',
  'menu',
  'menubar',
  'toolbar',
  'dialog',
  'alert',
  'tablist',
]);
// Elements that end a paragraph; everything else is inline and flows into the current line.
const PARAGRAPHS = new Set([
  'address',
  'article',
  'blockquote',
  'body',
  'caption',
  'center',
  'dd',
  'details',
  'div',
  'dl',
  'dt',
  'fieldset',
  'figcaption',
  'figure',
  'footer',
  'header',
  'hgroup',
  'hr',
  'html',
  'legend',
  'main',
  'ol',
  'p',
  'section',
  'summary',
  'table',
  'ul',
]);
const LINES = new Set(['li', 'tr']);
const HEADINGS: Readonly<Record<string, number>> = { h1: 1, h2: 2, h3: 3, h4: 4, h5: 5, h6: 6 };

/** Deeper nesting than this is no real page; refusing it keeps the recursive walk off the stack limit. */
const MAX_DEPTH = 512;

const SNIFF = /^\s*(?:<!--[\s\S]*?-->\s*)*<(?:!doctype\s+html|html|head|body)[\s>]/i;
const META_CHARSET = /<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)/i;

/**
 * HTML: the main text of a page, with its heading structure. Scripts, styles, hidden elements and
 * page furniture (navigation, banners, side bars, forms, ARIA landmarks for them) are dropped; when
 * the page marks its main content (`<main>`, `role="main"`, or a single `<article>`), only that is
 * read. Headings `h1`-`h6` start sections; paragraphs, list items and table rows keep their breaks
 * (list items as `- item`, table cells joined by ` | `).
 *
 * Title: `<title>`, else the first `h1`.
 */
export const htmlParser: TextFormatParser<'text/html'> = {
  kind: 'text',
  mediaType: 'text/html',
  aliases: ['application/xhtml+xml'],
  extensions: ['.html', '.htm', '.xhtml'],
  sniff: ({ text }) => SNIFF.test(text.slice(0, 4096)),
  charset(bytes) {
    const head = new TextDecoder('latin1').decode(bytes.subarray(0, 2048));
    return META_CHARSET.exec(head)?.[1];
  },
  async parse(source) {
    // Loaded on first use: each document is parsed in a fresh thread (see parse-and-chunk.ts),
    // which should not pay for the parsers of formats it is not reading.
    const { parseDocument } = await import('htmlparser2');
    const dom = parseDocument(source, { decodeEntities: true, lowerCaseTags: true });
    const titleElement = findFirst(dom.children, (el) => el.name === 'title');
    const pageTitle = titleElement === undefined ? '' : headingText(textOf(titleElement));
    const root = mainContent(dom.children);
    const blocks = new BlockWriter();
    for (const node of root) blocks.visit(node, false, 0);
    blocks.endParagraph();
    const { text, sections } = blocksToText(blocks.blocks);
    const firstH1 = blocks.blocks.find((b) => b.kind === 'heading' && b.level === 1)?.text;
    const title = pageTitle !== '' ? pageTitle : firstH1 === undefined ? undefined : headingText(firstH1);
    return { text, sections, ...(title === undefined ? {} : { title }) };
  },
};

/** The page's marked main content, or the whole document when it marks none. */
function mainContent(nodes: AnyNode[]): AnyNode[] {
  const main = findFirst(nodes, (el) => el.name === 'main' || el.attribs['role'] === 'main');
  if (main !== undefined) return [main];
  const articles: Element[] = [];
  collect(nodes, (el) => el.name === 'article', articles);
  const [only] = articles;
  return articles.length === 1 && only !== undefined ? [only] : nodes;
}

function isHidden(el: Element): boolean {
  const { attribs } = el;
  if ('hidden' in attribs || attribs['aria-hidden'] === 'true') return true;
  if (SKIPPED_ROLES.has(attribs['role'] ?? '')) return true;
  return /display\s*:\s*none|visibility\s*:\s*hidden/i.test(attribs['style'] ?? '');
}

class BlockWriter {
  readonly blocks: Block[] = [];
  #lines: string[] = [];
  #line = '';

  visit(node: AnyNode, inArticle: boolean, depth: number): void {
    if (depth > MAX_DEPTH) {
      throw new DocumentError(
        'corrupt',
        `The HTML nests elements more than ${MAX_DEPTH} levels deep; no page needs that. Simplify it and send it again.`,
      );
    }
    if (isText(node)) {
      this.#line += node.data.replace(/\s+/g, ' ');
      return;
    }
    if (!isTag(node)) return;
    const name = node.name;
    if (SKIPPED.has(name) || isHidden(node)) return;
    if (FURNITURE.has(name) && !inArticle) return;
    const level = HEADINGS[name];
    if (level !== undefined) {
      this.endParagraph();
      this.blocks.push({ kind: 'heading', level, text: textOf(node) });
      return;
    }
    if (name === 'br') {
      this.endLine();
      return;
    }
    if (name === 'pre') {
      this.endParagraph();
      this.blocks.push({ kind: 'text', text: rawTextOf(node).replace(/^\n/, '').trimEnd() });
      return;
    }
    if (name === 'img') {
      // Alternative text is the author's description of the picture: searchable content.
      const alt = node.attribs['alt']?.trim();
      if (alt) this.#line += ` ${alt} `;
      return;
    }
    const paragraph = PARAGRAPHS.has(name);
    const line = LINES.has(name);
    if (paragraph) this.endParagraph();
    else if (line) this.endLine();
    if (name === 'li')
      this.#line +=
        node.parent && isTag(node.parent) && node.parent.name === 'ol' ? `${ordinal(node)}. ` : '- ';
    if ((name === 'td' || name === 'th') && previousCell(node)) this.#line += ' | ';
    const childInArticle = inArticle || name === 'article' || name === 'main';
    for (const child of node.children) this.visit(child, childInArticle, depth + 1);
    if (paragraph) this.endParagraph();
    else if (line) this.endLine();
  }

  endLine(): void {
    const line = this.#line.replace(/\s+/g, ' ').trim();
    // A list marker or a cell separator alone is not content.
    if (line !== '' && !/^(?:-|\d+\.|\|)$/.test(line)) this.#lines.push(line);
    this.#line = '';
  }

  endParagraph(): void {
    this.endLine();
    if (this.#lines.length > 0) this.blocks.push({ kind: 'text', text: this.#lines.join('\n') });
    this.#lines = [];
  }
}

function ordinal(li: Element): number {
  let n = 1;
  for (let sibling = li.prev; sibling; sibling = sibling.prev)
    if (isTag(sibling) && sibling.name === 'li') n++;
  return n;
}

function previousCell(cell: Element): boolean {
  for (let sibling = cell.prev; sibling; sibling = sibling.prev) {
    if (isTag(sibling) && (sibling.name === 'td' || sibling.name === 'th')) return true;
  }
  return false;
}

/** Visible text of an element on one line (headings, the title). */
function textOf(node: AnyNode): string {
  return rawTextOf(node).replace(/\s+/g, ' ').trim();
}

function rawTextOf(node: AnyNode, depth = 0): string {
  if (isText(node)) return node.data;
  if (depth > MAX_DEPTH) return '';
  if (!isTag(node) || SKIPPED.has(node.name) || (node.name !== 'title' && isHidden(node))) return '';
  if (node.name === 'br') return '\n';
  return node.children.map((child) => rawTextOf(child, depth + 1)).join('');
}

function findFirst(
  nodes: readonly AnyNode[],
  test: (el: Element) => boolean,
  depth = 0,
): Element | undefined {
  if (depth > MAX_DEPTH) return undefined;
  for (const node of nodes) {
    if (isTag(node) && test(node)) return node;
    const found = 'children' in node ? findFirst(node.children, test, depth + 1) : undefined;
    if (found) return found;
  }
  return undefined;
}

function collect(
  nodes: readonly AnyNode[],
  test: (el: Element) => boolean,
  into: Element[],
  depth = 0,
): void {
  if (depth > MAX_DEPTH) return;
  for (const node of nodes) {
    if (isTag(node) && test(node)) into.push(node);
    if ('children' in node) collect(node.children, test, into, depth + 1);
  }
}
