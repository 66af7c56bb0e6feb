import type { Section } from '../document.ts';
import { trimmedSection } from './section.ts';

/**
 * A unit of extracted text: what HTML, DOCX and PDF parsing produce before it becomes one text
 * with sections. Headings are kept apart so the heading path can be built; `page` is set by
 * paged formats.
 */
export type Block =
  | {
      kind: 'heading';
      level: number;
      text: string;
      page?: number;
      /** Only names the section (a record label): it goes into the heading path, not the text. */
      pathOnly?: boolean;
    }
  | { kind: 'text'; text: string; page?: number };

const MAX_HEADING_CHARS = 200;

/**
 * Joins blocks into one text (a blank line between blocks, so the chunker sees paragraph breaks)
 * and cuts it into sections: a heading starts a section that holds its own line and runs to the
 * next heading or page change. The heading path is the stack of open headings, as in Markdown.
 */
export function blocksToText(blocks: readonly Block[]): { text: string; sections: Section[] } {
  let text = '';
  const sections: Section[] = [];
  const open: { level: number; text: string }[] = [];
  let sectionStart = 0;
  let sectionPath: string[] = [];
  let sectionPage: number | undefined;

  const closeSection = (): void => {
    const section = trimmedSection(text, sectionStart, text.length, sectionPath);
    if (section !== undefined) {
      if (sectionPage !== undefined) section.page = sectionPage;
      sections.push(section);
    }
    sectionStart = text.length;
  };

  for (const block of blocks) {
    const content = block.kind === 'heading' ? headingText(block.text) : block.text.trim();
    if (content === '') continue;
    if (block.kind === 'heading') {
      closeSection();
      while (open.length > 0 && (open.at(-1)?.level ?? 0) >= block.level) open.pop();
      open.push({ level: block.level, text: content });
      sectionPath = open.map((heading) => heading.text);
      sectionPage = block.page;
      if (block.pathOnly === true) continue;
    } else if (block.page !== sectionPage) {
      closeSection();
      sectionPage = block.page;
    }
    if (text.length > 0) text += '\n\n';
    text += content;
  }
  closeSection();
  return { text, sections };
}

/** Heading text on one line, shortened at a word boundary when it runs away. */
export function headingText(raw: string): string {
  const text = raw.replace(/\s+/g, ' ').trim();
  if (text.length <= MAX_HEADING_CHARS) return text;
  const cut = text.lastIndexOf(' ', MAX_HEADING_CHARS - 1);
  return `${text.slice(0, cut > 0 ? cut : MAX_HEADING_CHARS - 1)}…`;
}
