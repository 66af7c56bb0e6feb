import { describe, expect, it } from 'vitest';
import { detectMediaType } from './media-type.ts';
import { SUPPORTED_MEDIA_TYPES } from './parsers/registry.ts';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('detectMediaType', () => {
  it('trusts a declared type over the file name and the content', () => {
    expect(detectMediaType({ content: '# Heading', mediaType: 'text/plain', filename: 'notes.md' })).toBe(
      'text/plain',
    );
  });

  it('ignores parameters and case in the declared type, and resolves aliases', () => {
    expect(detectMediaType({ content: 'x', mediaType: 'Text/Markdown; charset=UTF-8' })).toBe(
      'text/markdown',
    );
    expect(detectMediaType({ content: 'x', mediaType: 'text/plain;charset=utf-8' })).toBe('text/plain');
    expect(detectMediaType({ content: 'x', mediaType: 'text/x-markdown' })).toBe('text/markdown');
  });

  it('returns an unsupported declared type as is, so the error can name it', () => {
    expect(detectMediaType({ content: 'x', mediaType: 'application/pdf', filename: 'a.txt' })).toBe(
      'application/pdf',
    );
  });

  it('falls back to the extension when the declared type says nothing', () => {
    for (const mediaType of [undefined, '', 'application/octet-stream']) {
      expect(detectMediaType({ content: 'plain', mediaType, filename: 'README.md' })).toBe('text/markdown');
    }
    expect(detectMediaType({ content: 'x', filename: 'docs/guide.MARKDOWN' })).toBe('text/markdown');
    expect(detectMediaType({ content: 'x', filename: 'C:\\docs\\guide.markdown' })).toBe('text/markdown');
  });

  it('lets the extension win over Markdown-looking content', () => {
    expect(detectMediaType({ content: '# not a heading, a comment', filename: 'notes.txt' })).toBe(
      'text/plain',
    );
  });

  it('takes every supported format from its extension', () => {
    expect(detectMediaType({ content: encode('whatever'), filename: 'report.pdf' })).toBe('application/pdf');
    expect(detectMediaType({ content: 'x', filename: 'page.HTM' })).toBe('text/html');
    expect(detectMediaType({ content: encode('x'), filename: 'memo.docx' })).toBe(
      'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    );
    expect(detectMediaType({ content: 'a,b', filename: 'table.csv' })).toBe('text/csv');
    expect(detectMediaType({ content: 'a\tb', filename: 'table.tsv' })).toBe('text/tab-separated-values');
    expect(detectMediaType({ content: '{}', filename: 'data.json' })).toBe('application/json');
    expect(detectMediaType({ content: '{}', filename: 'log.jsonl' })).toBe('application/x-ndjson');
  });

  it('names well-known formats it cannot parse from their extension', () => {
    expect(detectMediaType({ content: encode('whatever'), filename: 'old.doc' })).toBe('application/msword');
  });

  it('sniffs HTML, JSON and JSON Lines from text', () => {
    expect(detectMediaType({ content: '<!DOCTYPE html><html><body>x</body></html>' })).toBe('text/html');
    expect(detectMediaType({ content: '  <!-- hi -->\n<html lang="en">' })).toBe('text/html');
    expect(detectMediaType({ content: '[{"id": 1}]' })).toBe('application/json');
    expect(detectMediaType({ content: '{"a": 1}\n{"a": 2}\n' })).toBe('application/x-ndjson');
    // A Markdown link at the start is not JSON.
    expect(detectMediaType({ content: '[the docs](https://example.com) say hello' })).toBe('text/plain');
    // Nor is prose that opens like an array (a SciFact abstract); a document cut at the sample is
    // still judged by its opening.
    expect(detectMediaType({ content: '[1] This study presents a second generation of data.' })).toBe(
      'text/plain',
    );
    expect(detectMediaType({ content: `[1, ${'2, '.repeat(40_000)}3]` })).toBe('application/json');
  });

  it('sniffs Markdown headings, setext underlines and code fences', () => {
    expect(detectMediaType({ content: 'Intro\n\n## Usage\nrun it' })).toBe('text/markdown');
    expect(detectMediaType({ content: encode('text\r\n```js\r\ncode\r\n```\r\n') })).toBe('text/markdown');
    expect(detectMediaType({ content: 'Title\n=====\n\nbody' })).toBe('text/markdown');
    // Unknown extensions say nothing either.
    expect(detectMediaType({ content: '# Log', filename: 'build.log' })).toBe('text/markdown');
  });

  it('defaults to plain text', () => {
    expect(detectMediaType({ content: 'Just some prose. #hashtag\nC# is a language.' })).toBe('text/plain');
    expect(detectMediaType({ content: encode('a line\n---\n') })).toBe('text/plain');
  });

  it('recognises PDF bytes that arrive without a type or name', () => {
    expect(detectMediaType({ content: encode('%PDF-1.7\n%âãÏÓ\n') })).toBe('application/pdf');
  });
});

describe('SUPPORTED_MEDIA_TYPES', () => {
  it('lists every format with a parser', () => {
    expect([...SUPPORTED_MEDIA_TYPES].sort()).toEqual([
      'application/json',
      'application/pdf',
      'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
      'application/x-ndjson',
      'text/csv',
      'text/html',
      'text/markdown',
      'text/plain',
      'text/tab-separated-values',
    ]);
  });
});
