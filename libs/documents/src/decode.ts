import { DocumentError } from './errors.ts';

/**
 * Turns content into the text every parser works on: strict UTF-8, no byte-order mark, `\n` line
 * endings. Strict because a silently substituted U+FFFD ends up embedded and searchable, and a
 * wrong-encoding upload is better fixed by its sender than indexed as garbage.
 */
export function decodeText(content: string | Uint8Array, charset?: string): string {
  const text =
    typeof content === 'string'
      ? content.replace(/^\uFEFF/, '')
      : charset !== undefined && !isUtf8Label(charset)
        ? decodeLegacy(content, charset)
        : decodeUtf8(content);
  return normalizeLineEndings(text);
}

/**
 * `\r\n` and lone `\r` (old Mac files would otherwise be one long line with no paragraph breaks)
 * as `\n`. Most text has no `\r`: finding none is a plain scan, where the replace's regex costs
 * several times more (4% of a gateway acknowledging ingests, which checks every document).
 */
export function normalizeLineEndings(text: string): string {
  return text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
}

function decodeUtf8(bytes: Uint8Array): string {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new DocumentError(
      'undecodable',
      'The document looks like UTF-16 text (it starts with a UTF-16 byte-order mark). ' +
        'Convert it to UTF-8 and send it again.',
    );
  }
  try {
    // ignoreBOM: false (the default) drops a leading UTF-8 BOM.
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (cause) {
    const offset = firstInvalidUtf8Offset(bytes);
    const where =
      offset === undefined
        ? ''
        : ` (byte 0x${(bytes[offset] ?? 0).toString(16).toUpperCase().padStart(2, '0')} at offset ${offset})`;
    throw new DocumentError(
      'undecodable',
      `The document is not valid UTF-8 text${where}. ` +
        'Re-save it as UTF-8 (or send a supported format) and send it again.',
      { cause },
    );
  }
}

/**
 * Offset of the first byte that starts an ill-formed sequence, per the Unicode well-formed UTF-8
 * table; only run after decoding failed, to tell the sender where to look.
 */
function firstInvalidUtf8Offset(bytes: Uint8Array): number | undefined {
  const at = (i: number): number => bytes[i] ?? -1;
  const inRange = (byte: number, low: number, high: number): boolean => byte >= low && byte <= high;
  for (let i = 0; i < bytes.length;) {
    const lead = at(i);
    let length: number;
    let secondLow = 0x80;
    let secondHigh = 0xbf;
    if (lead <= 0x7f) length = 1;
    else if (inRange(lead, 0xc2, 0xdf)) length = 2;
    else if (inRange(lead, 0xe0, 0xef)) {
      length = 3;
      if (lead === 0xe0) secondLow = 0xa0;
      if (lead === 0xed) secondHigh = 0x9f;
    } else if (inRange(lead, 0xf0, 0xf4)) {
      length = 4;
      if (lead === 0xf0) secondLow = 0x90;
      if (lead === 0xf4) secondHigh = 0x8f;
    } else return i;
    if (length > 1 && !inRange(at(i + 1), secondLow, secondHigh)) return i;
    for (let k = 2; k < length; k++) if (!inRange(at(i + k), 0x80, 0xbf)) return i;
    i += length;
  }
  return undefined;
}

function isUtf8Label(label: string): boolean {
  return /^(?:utf-?8|unicode-1-1-utf-8)$/i.test(label.trim());
}

/** Text in an encoding it declares itself (an HTML page's `<meta charset="windows-1252">`). */
function decodeLegacy(bytes: Uint8Array, charset: string): string {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset, { fatal: true });
  } catch (cause) {
    throw new DocumentError(
      'undecodable',
      `The document declares the character encoding "${charset}", which is not supported. Re-save it as UTF-8.`,
      { cause },
    );
  }
  try {
    return decoder.decode(bytes);
  } catch (cause) {
    throw new DocumentError(
      'undecodable',
      `The document is not valid ${charset} text, although it declares that encoding. Re-save it as UTF-8.`,
      { cause },
    );
  }
}
