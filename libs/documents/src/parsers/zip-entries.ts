import { createInflateRaw } from 'node:zlib';

/** One file in a zip archive's central directory. */
export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated; anything else is left to the reader to refuse. */
  method: number;
  compressedSize: number;
  /** As declared: a zip bomb lies here, so only {@link inflatedBytes} is to be trusted. */
  uncompressedSize: number;
  localHeaderOffset: number;
}

const END_OF_DIRECTORY = 0x06054b50;
const DIRECTORY_ENTRY = 0x02014b50;
// The end record is 22 bytes plus a comment of at most 65,535.
const MAX_END_SEARCH = 22 + 0xffff;

/**
 * Lists a zip archive's entries from its central directory, without inflating anything, or
 * returns `undefined` when the bytes are no readable zip. Used to recognise DOCX files and to
 * refuse zip bombs before a parser inflates them; the archive itself is read by the DOCX parser.
 */
export function zipEntries(bytes: Uint8Array): ZipEntry[] | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lowest = Math.max(0, bytes.length - MAX_END_SEARCH);
  let end = -1;
  for (let i = bytes.length - 22; i >= lowest; i--) {
    if (view.getUint32(i, true) === END_OF_DIRECTORY) {
      end = i;
      break;
    }
  }
  if (end < 0) return undefined;
  const count = view.getUint16(end + 10, true);
  let offset = view.getUint32(end + 16, true);
  const entries: ZipEntry[] = [];
  const decoder = new TextDecoder('utf-8');
  for (let i = 0; i < count; i++) {
    if (offset + 46 > bytes.length || view.getUint32(offset, true) !== DIRECTORY_ENTRY) return undefined;
    const nameLength = view.getUint16(offset + 28, true);
    const extraLength = view.getUint16(offset + 30, true);
    const commentLength = view.getUint16(offset + 32, true);
    if (offset + 46 + nameLength > bytes.length) return undefined;
    entries.push({
      name: decoder.decode(bytes.subarray(offset + 46, offset + 46 + nameLength)),
      method: view.getUint16(offset + 10, true),
      compressedSize: view.getUint32(offset + 20, true),
      uncompressedSize: view.getUint32(offset + 24, true),
      localHeaderOffset: view.getUint32(offset + 42, true),
    });
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

const LOCAL_HEADER = 0x04034b50;

/**
 * The bytes the archive's entries actually inflate to, counted while inflating (output is
 * discarded, so memory stays flat), stopping as soon as the total passes `limit`: returns
 * `undefined` then. Declared sizes are not trusted: a zip that declares 1,000 bytes and inflates
 * 1.5 GB is stopped after `limit`. Entries stored or deflated only; others count as their
 * compressed size (the reader refuses them anyway).
 */
export async function inflatedBytes(
  bytes: Uint8Array,
  entries: readonly ZipEntry[],
  limit: number,
): Promise<number | undefined> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let total = 0;
  for (const entry of entries) {
    const header = entry.localHeaderOffset;
    if (header + 30 > bytes.length || view.getUint32(header, true) !== LOCAL_HEADER) continue;
    const dataStart = header + 30 + view.getUint16(header + 26, true) + view.getUint16(header + 28, true);
    // The directory's compressed size may lie too: never read past the archive.
    const data = bytes.subarray(dataStart, Math.min(bytes.length, dataStart + entry.compressedSize));
    if (entry.method !== 8) {
      total += data.length;
    } else {
      const counted = await countInflated(data, limit - total);
      if (counted === undefined) return undefined;
      total += counted;
    }
    if (total > limit) return undefined;
  }
  return total;
}

/** Inflates `data`, counting output bytes; `undefined` once they pass `budget`. Damage counts as what came out. */
function countInflated(data: Uint8Array, budget: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const inflate = createInflateRaw();
    let count = 0;
    let done = false;
    const finish = (value: number | undefined): void => {
      if (done) return;
      done = true;
      inflate.destroy();
      resolve(value);
    };
    inflate.on('data', (chunk: Buffer) => {
      count += chunk.length;
      if (count > budget) finish(undefined);
    });
    inflate.on('end', () => finish(count));
    // A damaged stream is the reader's to report; what inflated so far is what it costs.
    inflate.on('error', () => finish(count));
    inflate.end(data);
  });
}
