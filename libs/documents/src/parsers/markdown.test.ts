import { describe, expect, it } from 'vitest';
import type { ParsedDocument } from '../document.ts';
import type { ParsedBody } from './format-parser.ts';
import { markdownParser } from './markdown.ts';

// The Markdown parser is synchronous; calling it directly keeps these tests free of awaits.
const markdown = (content: string): ParsedDocument => ({
  mediaType: 'text/markdown',
  text: content,
  ...(markdownParser.parse(content) as ParsedBody),
});
const paths = (doc: ParsedDocument): string[][] => doc.sections.map((section) => section.headingPath);

describe('Markdown parsing', () => {
  it('builds heading paths from the stack of open headings', () => {
    const doc = markdown(
      [
        '# Guide',
        'intro',
        '## Install',
        'a',
        '### Linux',
        'b',
        '## Use',
        'c',
        '# Reference',
        '#### Deep',
        'd',
      ].join('\n'),
    );
    expect(paths(doc)).toEqual([
      ['Guide'],
      ['Guide', 'Install'],
      ['Guide', 'Install', 'Linux'],
      ['Guide', 'Use'],
      ['Reference'],
      ['Reference', 'Deep'],
    ]);
    expect(doc.sections[1]?.text).toBe('## Install\na');
  });

  it('keeps text before the first heading as a section without a path', () => {
    const doc = markdown('Preface.\n\n# Title\nbody');
    expect(doc.sections.map((s) => [s.headingPath, s.text])).toEqual([
      [[], 'Preface.'],
      [['Title'], '# Title\nbody'],
    ]);
  });

  it('ignores heading-like lines inside fenced code blocks', () => {
    const doc = markdown(
      [
        '# Setup',
        '```bash',
        '# install deps',
        'npm ci',
        '```',
        '~~~~',
        '## still code',
        '~~~ not a closing fence',
        '~~~~',
        '````md',
        '```',
        '# nested fence text',
        '````',
        '## After',
        'text',
      ].join('\n'),
    );
    expect(paths(doc)).toEqual([['Setup'], ['Setup', 'After']]);
    expect(doc.sections[0]?.text).toContain('# install deps');
  });

  it('treats everything after an unclosed fence as code', () => {
    expect(paths(markdown('# A\n```\n# B\n## C'))).toEqual([['A']]);
  });

  it('recognises setext headings, including multi-line ones', () => {
    const doc = markdown('Main Title\n==========\n\nintro\n\nFirst part\nof the name\n---\n\nbody');
    expect(doc.title).toBe('Main Title');
    expect(paths(doc)).toEqual([['Main Title'], ['Main Title', 'First part of the name']]);
    expect(doc.sections[1]?.text).toBe('First part\nof the name\n---\n\nbody');
  });

  it('does not mistake thematic breaks, list items or code for headings', () => {
    const doc = markdown(
      [
        '# A',
        '',
        '---',
        '',
        '- item',
        '---',
        '> quote',
        '===',
        '',
        '    # indented code',
        '#hashtag',
        '#',
        'end',
      ].join('\n'),
    );
    expect(paths(doc)).toEqual([['A']]);
  });

  it('strips closing hashes and inline markup from heading text', () => {
    const doc = markdown(
      '## The `parse` [API](https://example.com) **now** _fast_ ##\ntext\n## snake_case_name',
    );
    expect(paths(doc)).toEqual([['The parse API now fast'], ['snake_case_name']]);
  });

  it('takes the first level-1 heading as the title', () => {
    expect(markdown('## Intro\n# Real Title\n# Second').title).toBe('Real Title');
    expect(markdown('## Only level two').title).toBeUndefined();
  });

  it('skips YAML front matter and falls back to its title', () => {
    const doc = markdown('---\ntitle: "Notes"\ntags: [a]\n---\nSome text.\n\n## Part\nmore');
    expect(doc.title).toBe('Notes');
    expect(paths(doc)).toEqual([[], ['Part']]);
  });

  it('produces ordered, non-overlapping, trimmed sections that cover the document', () => {
    const doc = markdown('\n\nlead\n\n# A\n\ntext a\n\n\n## B\n\n```\n# x\n```\n\nB2\n--\n  tail  \n\n');
    let previousEnd = 0;
    const covered = new Set<number>();
    for (const section of doc.sections) {
      expect(section.start).toBeGreaterThanOrEqual(previousEnd);
      expect(doc.text.slice(section.start, section.end)).toBe(section.text);
      expect(section.text).toBe(section.text.trim());
      for (let i = section.start; i < section.end; i++) covered.add(i);
      previousEnd = section.end;
    }
    for (const match of doc.text.matchAll(/\S/g)) expect(covered.has(match.index)).toBe(true);
  });
});

describe('Markdown heading text', () => {
  it('keeps a trailing # that is part of the text', () => {
    expect(markdown('## Learn C#\nx').sections[0]?.headingPath).toEqual(['Learn C#']);
  });

  it('shortens a runaway setext heading at a word boundary', () => {
    const paragraph = Array.from({ length: 100 }, (_, i) => `word${i}`).join('\n');
    const [heading] = markdown(`${paragraph}\n---\nbody`).sections[0]?.headingPath ?? [];
    expect(heading?.length).toBeLessThanOrEqual(200);
    expect(heading?.startsWith('word0 word1 word2')).toBe(true);
    expect(heading?.endsWith('…')).toBe(true);
    expect(heading).toMatch(/ word\d+…$/);
  });
});
