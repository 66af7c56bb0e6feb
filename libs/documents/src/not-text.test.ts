import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { notTextReason } from './not-text.ts';

/** A file's bytes as a client that decodes them as Latin-1 or as UTF-8 would put them in a string. */
const asText = (bytes: Buffer) => [bytes.toString('latin1'), bytes.toString('utf8')];

describe('notTextReason', () => {
  it('names a PDF, an executable, an archive and images sent as text, however they were decoded', () => {
    const files: [Buffer, RegExp][] = [
      [Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n', 'latin1'), /PDF/],
      [readFileSync(process.execPath).subarray(0, 64 * 1024), /ELF executable|NUL/],
      [Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00]), /zip archive|NUL/],
      [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]), /PNG image|NUL/],
      [Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1'), /GIF image/],
      [Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46]), /JPEG image|NUL/],
    ];
    for (const [bytes, expected] of files) {
      for (const text of asText(bytes)) expect(notTextReason(text)).toMatch(expected);
    }
  });

  it('refuses a NUL anywhere, and a start made of control characters', () => {
    expect(notTextReason(`${'plain words '.repeat(1000)}\0`)).toMatch(/NUL character at position 12000/);
    expect(notTextReason('\x01\x02\x03\x04\x05\x06\x07\x08 and some words')).toMatch(/control characters/);
  });

  it('lets text through: prose, code, markup, data, other scripts, emoji and terminal colours', () => {
    const texts = [
      'Owls hunt at dusk.',
      '# Title\n\n- a list\n\n```ts\nconst x = 1;\n```\n',
      '<!doctype html><p>Hello</p>',
      '{"a": [1, 2, 3]}\n{"b": null}',
      'name,age\r\nAda,36\r\n',
      'Ωμέγα, 漢字, عربى, 👩‍👩‍👧‍👦\f\tend',
      '\x1b[31mred\x1b[0m log line\n'.repeat(50),
      'PK is a pharmacokinetics abbreviation',
      '%PDF is how the format names itself',
    ];
    for (const text of texts) expect(notTextReason(text)).toBeUndefined();
  });
});
