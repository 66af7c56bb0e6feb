import { constants } from 'node:fs';
import { createHash } from 'node:crypto';
import { open, readdir, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { HopperError } from '@hopper/contracts';

/** A file read for `ingest_document {path}`. */
export interface IngestFile {
  bytes: Buffer;
  /** The file's name, for format detection by extension. */
  filename: string;
  /** The path as given, relative to the root it lies under: the default document id. */
  relativePath: string;
}

/** A file opened for `ingest_document {path}`, checked and not read yet. Close it when done. */
export interface OpenedFile {
  /** The file's name, for format detection by extension. */
  filename: string;
  /** The path as given, relative to the root it lies under: the default document id. */
  relativePath: string;
  /** The path as given, made absolute and normalised (`..` resolved, links not). */
  path: string;
  /** Its size when opened, in bytes. */
  size: number;
  /**
   * The SHA-256 (hex) of its bytes, read in 1 MiB pieces: what the duplicate check needs, without
   * holding the file whole. The same value `contentHash` gives for the bytes `read` returns.
   */
  hash(): Promise<string>;
  /** The whole file; refused if it grew past the limit since it was opened. */
  read(): Promise<Buffer>;
  close(): Promise<void>;
}

const HASH_PIECE_BYTES = 1024 * 1024;

/**
 * Opens a file for ingestion, only from under one of `roots` (absolute directories):
 *
 * - no roots configured: refused, path ingestion is off;
 * - a path outside every root, compared before the file system is touched (so the answer says
 *   nothing about files outside the roots): refused;
 * - a path whose real location (symbolic links resolved) leaves the roots: refused;
 * - anything but a regular file (a directory, a device, a FIFO): refused;
 * - over `maxBytes`: refused from its size, before reading.
 *
 * The file is opened without following a final symbolic link, and (on Linux) the opened file's
 * path is checked again, so swapping a path component for a link between the checks and the
 * read does not escape the roots either.
 */
export async function openFileUnderRoots(
  requested: string,
  roots: readonly string[],
  maxBytes: number,
): Promise<OpenedFile> {
  if (roots.length === 0) {
    throw new HopperError(
      'unsupported',
      'Ingesting by path is turned off on this server: it reads files only under the directories ' +
        'listed in HOPPER_INGEST_ROOTS, and none are set. Send the document as content or contentBase64 instead.',
    );
  }
  if (!isAbsolute(requested) || requested.includes('\0')) {
    throw new HopperError('invalid_argument', `path must be an absolute file path, got '${requested}'`);
  }
  const lexical = resolve(requested);
  const root = roots.find((candidate) => within(candidate, lexical));
  if (root === undefined) {
    throw new HopperError(
      'invalid_argument',
      `path '${requested}' is outside the ingest roots (${roots.join(', ')}); only files under them can be ingested`,
    );
  }

  let real: string;
  try {
    real = await realpath(lexical);
  } catch (cause) {
    throw fileError(cause, requested);
  }
  const realRoots = await Promise.all(roots.map((candidate) => realpath(candidate).catch(() => undefined)));
  const inside = (path: string): boolean =>
    realRoots.some((candidate) => candidate !== undefined && within(candidate, path));
  if (!inside(real)) {
    throw new HopperError(
      'invalid_argument',
      `path '${requested}' leads (through a symbolic link) outside the ingest roots; only files under them can be ingested`,
    );
  }

  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO must not hang the gateway; it is refused below as no regular file.
    handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (cause) {
    throw fileError(cause, requested);
  }
  let size: number;
  try {
    const stat = await handle.stat();
    size = stat.size;
    if (!stat.isFile()) {
      throw new HopperError('invalid_argument', `path '${requested}' is not a regular file`);
    }
    if (stat.size > maxBytes) {
      throw new HopperError(
        'invalid_argument',
        `file '${requested}' is ${formatMiB(stat.size)}, over the ${formatMiB(maxBytes)} limit for files ingested by path; split it into smaller documents`,
      );
    }
    if (stat.size === 0) throw new HopperError('invalid_argument', `file '${requested}' is empty`);
    const opened = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => undefined);
    if (opened !== undefined && !inside(opened)) {
      throw new HopperError(
        'invalid_argument',
        `path '${requested}' changed to lead outside the ingest roots while it was opened`,
      );
    }
  } catch (error) {
    await handle.close();
    throw error;
  }
  const tooLarge = () =>
    new HopperError(
      'invalid_argument',
      `file '${requested}' is over the ${formatMiB(maxBytes)} limit for files ingested by path`,
    );
  return {
    filename: basename(real),
    relativePath: relative(root, lexical).split(sep).join('/'),
    path: lexical,
    size,
    async hash() {
      // Positional reads: the file's offset stays where it is for `read`.
      const hash = createHash('sha256');
      const piece = Buffer.allocUnsafe(HASH_PIECE_BYTES);
      let total = 0;
      for (;;) {
        const { bytesRead } = await handle.read(piece, 0, piece.length, total);
        if (bytesRead === 0) return hash.digest('hex');
        total += bytesRead;
        // The file may have grown since it was measured.
        if (total > maxBytes) throw tooLarge();
        hash.update(piece.subarray(0, bytesRead));
      }
    },
    async read() {
      const bytes = await handle.readFile();
      if (bytes.length > maxBytes) throw tooLarge();
      return bytes;
    },
    close: () => handle.close(),
  };
}

/**
 * The files under a directory inside `roots`, for a batch ingest: absolute paths, sorted, hidden
 * files and directories (a name starting with `.`: `.git`, `.DS_Store`) left out. Each file is
 * still opened with `openFileUnderRoots`, which checks it on its own (a link leading out of the
 * roots, a device, the size limit). Refused like a file path when the directory is outside every
 * root or is not a directory.
 */
export async function listDirectoryUnderRoots(
  requested: string,
  roots: readonly string[],
): Promise<string[]> {
  if (roots.length === 0) {
    throw new HopperError(
      'unsupported',
      'Ingesting by path is turned off on this server: it reads files only under the directories ' +
        'listed in HOPPER_INGEST_ROOTS, and none are set. Send the documents as content or contentBase64 instead.',
    );
  }
  if (!isAbsolute(requested) || requested.includes('\0')) {
    throw new HopperError('invalid_argument', `path must be an absolute directory path, got '${requested}'`);
  }
  const lexical = resolve(requested);
  if (!roots.some((candidate) => within(candidate, lexical))) {
    throw new HopperError(
      'invalid_argument',
      `path '${requested}' is outside the ingest roots (${roots.join(', ')}); only files under them can be ingested`,
    );
  }
  try {
    const real = await realpath(lexical);
    const realRoots = await Promise.all(roots.map((candidate) => realpath(candidate).catch(() => undefined)));
    if (!realRoots.some((candidate) => candidate !== undefined && within(candidate, real))) {
      throw new HopperError(
        'invalid_argument',
        `path '${requested}' leads (through a symbolic link) outside the ingest roots; only files under them can be ingested`,
      );
    }
    if (!(await stat(real)).isDirectory()) {
      throw new HopperError(
        'invalid_argument',
        `path '${requested}' is not a directory; ingest a single file with ingest_document`,
      );
    }
    const entries = await readdir(lexical, { recursive: true, withFileTypes: true });
    const files: string[] = [];
    for (const entry of entries) {
      if (!(entry.isFile() || entry.isSymbolicLink())) continue;
      const path = join(entry.parentPath, entry.name);
      if (
        relative(lexical, path)
          .split(sep)
          .some((part) => part.startsWith('.'))
      )
        continue;
      files.push(path);
    }
    return files.sort();
  } catch (cause) {
    if (cause instanceof HopperError) throw cause;
    throw fileError(cause, requested);
  }
}

/** Opens, reads and closes a file under `roots` (see openFileUnderRoots). */
export async function readFileUnderRoots(
  requested: string,
  roots: readonly string[],
  maxBytes: number,
): Promise<IngestFile> {
  const file = await openFileUnderRoots(requested, roots, maxBytes);
  try {
    return { bytes: await file.read(), filename: file.filename, relativePath: file.relativePath };
  } finally {
    await file.close();
  }
}

/** Path characters that stay as they are in a document id: nothing about them is ambiguous. */
const KEPT = /^(?:[A-Za-z0-9._:@/-]|[\p{L}\p{M}\p{N}])$/u;
/** What an id may start with (see `documentId`). */
const FIRST = /^(?:[A-Za-z0-9]|[\p{L}\p{N}])$/u;

/**
 * The default document id of a file ingested by path: its path under the root (`guides/setup.md`),
 * so ingesting the file again after an edit replaces its previous version.
 *
 * Distinct paths give distinct ids. The path is NFC-normalised (the one ambiguity: `é` composed or
 * not is the same name to a person, and macOS writes the decomposed form); letters, marks and
 * digits of any script in the Basic Multilingual Plane stay as they are, and so do ASCII `. _ : @ /
 * -`. Every other character (spaces, brackets, symbols, emoji, `~` itself, and a first character an
 * id cannot start with) is escaped as `~` and its UTF-8 bytes in hex: `report (1).txt` becomes
 * `report~20~281~29.txt` and `report [1].txt` `report~20~5B1~5D.txt`. Since `~` is always an
 * escape, the mapping can be read back, so two paths can share an id only when they differ in
 * normalisation alone (see the collision check at ingest).
 *
 * Throws when the id would pass the 256-character limit: a cut id would no longer be distinct.
 */
export function documentIdForPath(relativePath: string): string {
  let id = '';
  for (const char of relativePath.normalize('NFC')) {
    // One UTF-16 unit: characters past the Basic Multilingual Plane are escaped (see documentId).
    const kept = char.length === 1 && (id === '' ? FIRST : KEPT).test(char);
    id += kept ? char : escape(char);
  }
  if (id.length > 256) {
    throw new HopperError(
      'invalid_argument',
      `the path '${relativePath}' makes a document id of ${id.length} characters, over the 256 allowed; ` +
        'pass documentId to name the document',
    );
  }
  return id;
}

function escape(char: string): string {
  return [...Buffer.from(char, 'utf8')]
    .map((byte) => `~${byte.toString(16).toUpperCase().padStart(2, '0')}`)
    .join('');
}

function within(root: string, path: string): boolean {
  const base = root.endsWith(sep) ? root : root + sep;
  return path === root || path.startsWith(base);
}

function fileError(cause: unknown, requested: string): HopperError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new HopperError('not_found', `no file at '${requested}'`, { cause });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new HopperError('invalid_argument', `file '${requested}' is not readable by the server`, {
      cause,
    });
  }
  if (code === 'ELOOP') {
    return new HopperError(
      'invalid_argument',
      `path '${requested}' is a symbolic link loop or changed while it was opened`,
      { cause },
    );
  }
  return new HopperError(
    'invalid_argument',
    `file '${requested}' cannot be read (${code ?? 'unknown error'})`,
    { cause },
  );
}

function formatMiB(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, '')} MiB`;
}
