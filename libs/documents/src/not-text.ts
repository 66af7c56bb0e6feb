/* eslint-disable no-control-regex -- file signatures and binary data are made of control characters */
/*
 * Telling a file's bytes sent as text from text. A client that puts a PDF or a program into a JSON
 * string field gets it indexed as pages of gibberish; these are the cases that are clearly not text,
 * found without parsing: a NUL character (no text format uses it), a known binary signature at the
 * start, or a start made mostly of control characters and undecodable bytes.
 */

/**
 * File signatures as they arrive in a string: bytes under 0x80 as themselves; a byte above, as the
 * client decoded it (Latin-1 keeps it, UTF-8 turns it into U+FFFD, the replacement character).
 * Most binary formats also hold NUL bytes early, which the NUL check catches whatever the decoding;
 * PDF source often has none, hence its signature.
 */
const SIGNATURES: readonly { pattern: RegExp; what: string }[] = [
  { pattern: /^%PDF-/, what: 'a PDF file (it starts with %PDF-)' },
  { pattern: /^\x7fELF/, what: 'an ELF executable (it starts with \\x7fELF)' },
  { pattern: /^PK\x03\x04/, what: 'a zip archive, such as a DOCX file (it starts with PK\\x03\\x04)' },
  { pattern: /^[\x89\uFFFD]PNG\r\n\x1a\n/, what: 'a PNG image (it starts with \\x89PNG)' },
  { pattern: /^GIF8[79]a/, what: 'a GIF image (it starts with GIF87a or GIF89a)' },
  { pattern: /^\xff\xd8\xff/, what: 'a JPEG image (it starts with \\xff\\xd8\\xff)' },
  { pattern: /^\x1f[\x8b\uFFFD]\x08/, what: 'gzip-compressed data' },
  { pattern: /^\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1/, what: 'an old Office file (.doc, .xls, .ppt)' },
  { pattern: /^7z[\xbc\uFFFD]/, what: 'a 7-Zip archive' },
  { pattern: /^Rar!\x1a\x07/, what: 'a RAR archive' },
];

/** How much of the start is looked at for control characters: binary shows itself early. */
const SAMPLE_CHARS = 4096;

/**
 * Why `text` is clearly not text (a phrase such as "a PDF file (it starts with %PDF-)"), or
 * `undefined` when it may be text. Conservative: prose, code, markup and data formats pass; only
 * a NUL, a known file signature or a start that is at least a tenth control characters (other than
 * tab, line feed, form feed, carriage return and escape) or replacement characters is refused.
 */
export function notTextReason(text: string): string | undefined {
  for (const { pattern, what } of SIGNATURES) if (pattern.test(text)) return what;
  const nul = text.indexOf('\0');
  if (nul !== -1) return `binary data (it holds a NUL character at position ${nul})`;
  const sample = text.slice(0, SAMPLE_CHARS);
  const odd = sample.match(/[\x01-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f\uFFFD]/g)?.length ?? 0;
  if (odd >= 8 && odd * 10 >= sample.length) {
    return `binary data (${odd} of its first ${sample.length} characters are control characters or undecodable bytes)`;
  }
  return undefined;
}
