import type { TextFormatParser } from './format-parser.ts';
import { trimmedSection } from './section.ts';

/** Longer than this, a first line reads as prose rather than a title. */
const MAX_TITLE_LENGTH = 120;

/**
 * Plain text has no structure we can trust, so the whole document is one section with an empty
 * heading path.
 *
 * Title: the first non-blank line, trimmed, when it is at most 120 characters **and** stands
 * alone (a blank line follows it and more text comes after). Requiring the blank line keeps the
 * first line of a hard-wrapped paragraph, which is short too, from being taken for a title.
 */
export const plainTextParser: TextFormatParser<'text/plain'> = {
  kind: 'text',
  mediaType: 'text/plain',
  aliases: [],
  extensions: ['.txt', '.text'],
  parse(text) {
    const section = trimmedSection(text, 0, text.length, []);
    const title = section === undefined ? undefined : standaloneFirstLine(section.text);
    return { ...(title === undefined ? {} : { title }), sections: section === undefined ? [] : [section] };
  },
};

function standaloneFirstLine(trimmed: string): string | undefined {
  const match = /^([^\n]*)\n[ \t]*\n\s*\S/.exec(trimmed);
  const line = match?.[1]?.trim();
  return line !== undefined && line.length > 0 && line.length <= MAX_TITLE_LENGTH ? line : undefined;
}
