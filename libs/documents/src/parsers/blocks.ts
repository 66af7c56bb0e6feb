import type { RecordLabel, Section } from '../document.ts';
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
      /** The record this heading labels, so packed records can be named as a range. */
      record?: RecordLabel;
    }
  | { kind: 'text'; text: string; page?: number };

const MAX_HEADING_CHARS = 200;

/** A section before the text is joined: offsets into the joined text, its own text added later. */
interface PendingSection {
  start: number;
  end: number;
  headingPath: string[];
  page: number | undefined;
  record: RecordLabel | undefined;
  /** Holds only its heading line (or nothing but a record). */
  headingOnly: boolean;
}

/**
 * Joins blocks into one text (a blank line between blocks, so the chunker sees paragraph breaks)
 * and cuts it into sections: a heading starts a section that holds its own line and runs to the
 * next heading or page change. The heading path is the stack of open headings, as in Markdown.
 *
 * Linear in the blocks' text: pieces are collected and joined once, and sections are sliced from
 * the joined text afterwards. (Appending to one string and slicing it per section made V8 flatten
 * the growing text once per section, each section keeping its own copy alive: a 320 KB CSV of
 * 15,000 rows needed gigabytes.)
 */
export function blocksToText(blocks: readonly Block[]): { text: string; sections: Section[] } {
  const pieces: string[] = [];
  let length = 0;
  const pending: PendingSection[] = [];
  const open: { level: number; text: string }[] = [];
  let current: PendingSection | undefined;
  let sectionPath: string[] = [];
  let sectionPage: number | undefined;
  let sectionRecord: RecordLabel | undefined;
  let sectionHasBody = false;

  const closeSection = (): void => {
    if (current !== undefined) {
      current.headingOnly = !sectionHasBody;
      pending.push(current);
    }
    current = undefined;
    sectionHasBody = false;
  };
  const append = (content: string, body: boolean): void => {
    if (length > 0) {
      pieces.push('\n\n');
      length += 2;
    }
    current ??= {
      start: length,
      end: length,
      headingPath: sectionPath,
      page: sectionPage,
      record: sectionRecord,
      headingOnly: false,
    };
    pieces.push(content);
    length += content.length;
    current.end = length;
    if (body) sectionHasBody = true;
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
      sectionRecord = block.record;
      if (block.pathOnly === true) {
        // A record's text is its body: the label is not in the text.
        sectionHasBody = false;
        continue;
      }
      append(content, false);
    } else {
      if (block.page !== sectionPage) {
        closeSection();
        sectionPage = block.page;
        sectionRecord = undefined;
      }
      append(content, true);
    }
  }
  closeSection();

  const text = pieces.join('');
  const sections: Section[] = [];
  for (const section of pending) {
    // Pieces are trimmed, so a section's range already starts and ends on content.
    const built = trimmedSection(text, section.start, section.end, section.headingPath);
    if (built === undefined) continue;
    if (section.page !== undefined) built.page = section.page;
    if (section.record !== undefined) {
      built.record = section.record;
      built.packable = true;
    } else if (section.headingOnly) {
      built.packable = true;
    }
    sections.push(built);
  }
  return { text, sections };
}

/** Heading text on one line, shortened at a word boundary when it runs away. */
export function headingText(raw: string): string {
  const text = raw.replace(/\s+/g, ' ').trim();
  if (text.length <= MAX_HEADING_CHARS) return text;
  const cut = text.lastIndexOf(' ', MAX_HEADING_CHARS - 1);
  return `${text.slice(0, cut > 0 ? cut : MAX_HEADING_CHARS - 1)}…`;
}
