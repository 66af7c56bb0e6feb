import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HopperError, contentHash, documentId } from '@hopper/contracts';
import { documentIdForPath, openFileUnderRoots, readFileUnderRoots } from './ingest-path.ts';

let base: string;
let root: string;
let other: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'hopper-ingest-path-'));
  root = join(base, 'root');
  other = join(base, 'other');
  await mkdir(join(root, 'docs'), { recursive: true });
  await mkdir(other);
  await writeFile(join(root, 'docs', 'a b.md'), '# A\ntext');
  await writeFile(join(other, 'secret.txt'), 'secret');
  await symlink(join(other, 'secret.txt'), join(root, 'link-out.txt'));
  await symlink(join(root, 'docs', 'a b.md'), join(root, 'link-in.md'));
  await symlink(other, join(root, 'dir-out'));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function refusal(run: Promise<unknown>): Promise<HopperError> {
  const error: unknown = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof HopperError)) throw new Error(`expected a HopperError, got ${String(error)}`);
  return error;
}

describe('readFileUnderRoots', () => {
  it('reads a file under a root, naming it relative to the root', async () => {
    const file = await readFileUnderRoots(join(root, 'docs', 'a b.md'), [root], 1024);
    expect(file).toMatchObject({ filename: 'a b.md', relativePath: 'docs/a b.md' });
    expect(file.bytes.toString()).toBe('# A\ntext');
  });

  it('streams the same hash the duplicate check computes from the whole file', async () => {
    const big = join(root, 'docs', 'big.txt');
    await writeFile(big, 'lantern '.repeat(400_000)); // 3.2 MB: several pieces of the streamed hash
    const file = await openFileUnderRoots(big, [root], 8 * 1024 * 1024);
    try {
      const bytes = await file.read();
      expect(await file.hash()).toBe(contentHash(bytes));
      expect(file).toMatchObject({ filename: 'big.txt', relativePath: 'docs/big.txt', size: bytes.length });
    } finally {
      await file.close();
    }
  });

  it('follows a link that stays inside the roots', async () => {
    expect((await readFileUnderRoots(join(root, 'link-in.md'), [root], 1024)).filename).toBe('a b.md');
  });

  it('refuses everything outside the roots, before touching files there', async () => {
    const outside = await refusal(readFileUnderRoots(join(other, 'missing.txt'), [root], 1024));
    // A missing file outside the roots gets the same answer as an existing one: no probing.
    expect(outside.message).toMatch(/outside the ingest roots/);
    expect((await refusal(readFileUnderRoots(`${root}/../other/secret.txt`, [root], 1024))).message).toMatch(
      /outside the ingest roots/,
    );
    // A sibling directory whose name starts like the root is not under it.
    expect((await refusal(readFileUnderRoots(`${root}-x/file`, [root], 1024))).message).toMatch(/outside/);
  });

  it('refuses links that lead out of the roots, to files and through directories', async () => {
    for (const path of [join(root, 'link-out.txt'), join(root, 'dir-out', 'secret.txt')]) {
      expect((await refusal(readFileUnderRoots(path, [root], 1024))).message).toMatch(/symbolic link/);
    }
  });

  it('refuses when no roots are configured, relative paths, directories, big and missing files', async () => {
    expect((await refusal(readFileUnderRoots(join(root, 'docs', 'a b.md'), [], 1024))).code).toBe(
      'unsupported',
    );
    expect((await refusal(readFileUnderRoots('docs/a b.md', [root], 1024))).message).toMatch(/absolute/);
    expect((await refusal(readFileUnderRoots(join(root, 'docs'), [root], 1024))).message).toMatch(
      /not a regular file/,
    );
    expect((await refusal(readFileUnderRoots(join(root, 'docs', 'a b.md'), [root], 4))).message).toMatch(
      /over the/,
    );
    expect((await refusal(readFileUnderRoots(join(root, 'nope.md'), [root], 1024))).code).toBe('not_found');
  });
});

describe('documentIdForPath', () => {
  it('keeps the relative path and Unicode letters, escaping what an id cannot hold', () => {
    expect(documentIdForPath('guides/setup.md')).toBe('guides/setup.md');
    expect(documentIdForPath('docs/a b.md')).toBe('docs/a~20b.md');
    expect(documentIdForPath('_private/ünï.txt')).toBe('~5Fprivate/ünï.txt');
    expect(documentIdForPath('日本/メモ 1.md')).toBe('日本/メモ~201.md');
    expect(documentIdForPath('###')).toBe('~23~23~23');
    expect(documentIdForPath('notes 😀.txt')).toBe('notes~20~F0~9F~98~80.txt');
    for (const path of ['docs/a b.md', '_private/ünï.txt', '###', 'notes 😀.txt', 'a~b']) {
      expect(documentId.safeParse(documentIdForPath(path)).success).toBe(true);
    }
  });

  it('gives distinct paths distinct ids, and one id to one name written two ways', () => {
    const paths = [
      'report (1).txt',
      'report [1].txt',
      'report-1-.txt',
      'report~281~29.txt',
      'café.txt',
      'cafè.txt',
      'caf-.txt',
    ];
    const ids = paths.map(documentIdForPath);
    expect(new Set(ids).size).toBe(paths.length);
    expect(ids.slice(0, 2)).toEqual(['report~20~281~29.txt', 'report~20~5B1~5D.txt']);
    // Composed and decomposed é are one name to a person: one id (a second file is refused at ingest).
    expect(documentIdForPath('cafe\u0301.txt')).toBe(documentIdForPath('caf\u00e9.txt'));
  });

  it('refuses a path whose id would pass 256 characters rather than cut it', () => {
    expect(() => documentIdForPath(`${'a'.repeat(250)}/ (1).txt`)).toThrow(
      /over the 256 allowed; pass documentId/,
    );
  });
});
