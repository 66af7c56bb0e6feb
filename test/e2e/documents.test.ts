import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { connectModern, structured, toolError } from '../support/clients.ts';
import { TestStack } from '../support/stack.ts';

interface Hit {
  documentId: string;
  chunkId: string;
  score: number;
  text: string;
  headingPath?: string[];
  page?: number;
  start?: number;
  end?: number;
  matched?: string[];
  scores?: { text?: number; vector?: number };
}
interface SearchOut {
  results: Hit[];
}
interface IngestOut {
  documentId: string;
  state: string;
  chunks?: number;
  version?: number;
}

const fixtures = new URL('../fixtures/documents/', import.meta.url);
const COLLECTION = 'formats';

let stack: TestStack;
let client: Client;
let root: string;
let outside: string;

beforeAll(async () => {
  const base = await mkdtemp(join(tmpdir(), 'hopper-roots-'));
  root = join(base, 'library');
  outside = join(base, 'private');
  await mkdir(join(root, 'manuals'), { recursive: true });
  await mkdir(outside);
  for (const name of ['manual.pdf', 'guide.html', 'scanned.pdf']) {
    await copyFile(new URL(name, fixtures), join(root, 'manuals', name));
  }
  await writeFile(join(root, 'empty.txt'), '');
  await writeFile(join(outside, 'secret.txt'), 'the vault combination is 1234');
  await symlink(join(outside, 'secret.txt'), join(root, 'escape.txt'));
  // Sparse: one byte over the path limit (32 MiB) without writing 32 MiB.
  await writeFile(join(root, 'huge.txt'), '');
  await truncate(join(root, 'huge.txt'), 32 * 1024 * 1024 + 1);

  stack = await TestStack.start({ redisUrl: inject('redisUrl'), env: { HOPPER_INGEST_ROOTS: root } });
  client = await connectModern(stack.url);
});

afterAll(async () => {
  await client?.close();
  await stack?.stop();
  if (root) await rm(join(root, '..'), { recursive: true, force: true });
});

async function ingest(args: Record<string, unknown>): Promise<IngestOut> {
  return structured<IngestOut>(
    await client.callTool({ name: 'ingest_document', arguments: { collection: COLLECTION, ...args } }),
  );
}

async function search(query: string, extra: Record<string, unknown> = {}): Promise<Hit[]> {
  const out = structured<SearchOut>(
    await client.callTool({
      name: 'search',
      arguments: { query, collection: COLLECTION, topK: 3, ...extra },
    }),
  );
  return out.results;
}

async function base64(name: string): Promise<string> {
  return (await readFile(new URL(name, fixtures))).toString('base64');
}

describe('real documents in, passages out', () => {
  beforeAll(async () => {
    // One of each source kind: a file under the roots, bytes without a media type, text.
    await ingest({ path: join(root, 'manuals', 'manual.pdf') });
    await ingest({ path: join(root, 'manuals', 'guide.html') });
    await ingest({ contentBase64: await base64('handbook.docx'), documentId: 'handbook' });
    await ingest({ content: await readFile(new URL('tides.md', fixtures), 'utf8'), documentId: 'tides' });
  });

  it('finds a PDF passage with its page and heading path; path ingests are named after the file', async () => {
    const [hit] = await search('how is the Fresnel lens polished');
    expect(hit).toMatchObject({ documentId: 'manuals/manual.pdf', page: 2 });
    expect(hit?.text).toContain('polishes the Fresnel lens');
    expect(hit?.headingPath).toEqual(['Lighthouse Maintenance Manual', 'Lens care']);
    expect(hit?.matched).toEqual(expect.arrayContaining(['text', 'vector']));
    const doc = structured<{ title: string; mediaType: string; metadata: Record<string, unknown> }>(
      await client.callTool({
        name: 'get_document',
        arguments: { documentId: 'manuals/manual.pdf', collection: COLLECTION },
      }),
    );
    expect(doc).toMatchObject({
      title: 'Lighthouse Maintenance Manual',
      mediaType: 'application/pdf',
      // The file it came from, which tells a re-ingest of it from another file with the same id.
      metadata: { 'hopper.path': join(root, 'manuals', 'manual.pdf') },
    });
  });

  it('finds a DOCX passage under its Word headings', async () => {
    const [hit] = await search('pine needle smoke calms the colony');
    expect(hit?.documentId).toBe('handbook');
    expect(hit?.headingPath).toEqual(['Hive inspection', 'Smoking the bees']);
    expect(hit?.page).toBeUndefined();
  });

  it('finds an HTML passage, and none of the page furniture', async () => {
    const [hit] = await search('how often to feed a sourdough starter');
    expect(hit?.documentId).toBe('manuals/guide.html');
    expect(hit?.headingPath).toEqual(['Sourdough Baking Guide', 'Feeding the starter']);
    expect(hit?.text).toContain('every twelve hours');
    const furniture = await search('Shop navigation link analytics script sidebar', {
      mode: 'text',
      topK: 10,
    });
    expect(furniture.filter((h) => h.documentId === 'manuals/guide.html')).toEqual([]);
  });

  it('finds a Markdown passage with its offsets into the text', async () => {
    const [hit] = await search('neap tides quarter moon');
    expect(hit).toMatchObject({ documentId: 'tides', headingPath: ['Tide Tables', 'Neap tides'] });
    expect(hit!.end! - hit!.start!).toBe(hit!.text.length);
  });

  it('searches by words, by vectors or both, saying which signals matched', async () => {
    const text = await search('chamois cloth', { mode: 'text' });
    expect(text[0]?.documentId).toBe('manuals/manual.pdf');
    expect(text.every((h) => h.matched?.join() === 'text' && h.scores?.text === h.score)).toBe(true);
    const vector = await search('chamois cloth', { mode: 'vector' });
    expect(vector.every((h) => h.matched?.join() === 'vector')).toBe(true);
    const hybrid = await search('chamois cloth');
    expect(hybrid[0]?.documentId).toBe('manuals/manual.pdf');
    expect(hybrid[0]?.score).toBeGreaterThan(0);
    expect(hybrid[0]?.score).toBeLessThanOrEqual(1);
  });

  it('filters by metadata in every mode', async () => {
    await ingest({
      content: 'Harbour pilots board ships at the breakwater.',
      documentId: 'pilots',
      metadata: { lang: 'en' },
    });
    await ingest({
      content: 'Harbour pilots guide ships into port.',
      documentId: 'lotsen',
      metadata: { lang: 'de' },
    });
    for (const mode of ['hybrid', 'text', 'vector']) {
      const hits = await search('harbour pilots', { mode, filter: { lang: 'de' }, topK: 5 });
      expect(
        hits.map((h) => h.documentId),
        mode,
      ).toEqual(['lotsen']);
    }
  });

  it('chunks as asked per ingest, and refuses impossible chunking', async () => {
    const content = Array.from({ length: 30 }, (_, i) => `Sentence ${i} describes the tide gauge.`).join(' ');
    const small = await ingest({
      content,
      documentId: 'gauge',
      chunking: { maxChars: 200, overlapChars: 0 },
    });
    const large = await ingest({ content, documentId: 'gauge', chunking: { maxChars: 4000 } });
    expect(small.chunks).toBeGreaterThan(5);
    expect(large).toMatchObject({ chunks: 1, version: 2 });
    const message = toolError(
      await client.callTool({
        name: 'ingest_document',
        arguments: { content, chunking: { maxChars: 200, overlapChars: 150 } },
      }),
    );
    expect(message).toMatch(/overlapChars must be less than half of maxChars/);
  });
});

describe('bad documents change nothing', () => {
  it('refuses corrupt, empty, scanned, mislabelled, oversized and out-of-root inputs with clear errors', async () => {
    await ingest({ content: 'The keep is the last refuge of a castle.', documentId: 'keep' });
    const before = structured<{ documents: { documentId: string; version: number }[] }>(
      await client.callTool({ name: 'list_documents', arguments: { collection: COLLECTION, limit: 100 } }),
    );

    const pdf = await readFile(new URL('manual.pdf', fixtures));
    const cases: [string, Record<string, unknown>, RegExp][] = [
      [
        'corrupt PDF',
        { contentBase64: pdf.subarray(0, 400).toString('base64'), documentId: 'keep' },
        /PDF is damaged/,
      ],
      [
        'scanned PDF',
        { path: join(root, 'manuals', 'scanned.pdf'), documentId: 'keep' },
        /no text layer.*OCR/,
      ],
      [
        'corrupt DOCX',
        {
          contentBase64: Buffer.from('PK\u0003\u0004 broken').toString('base64'),
          filename: 'x.docx',
          documentId: 'keep',
        },
        /DOCX/,
      ],
      [
        'text sent as PDF',
        {
          contentBase64: Buffer.from('hello').toString('base64'),
          mediaType: 'application/pdf',
          documentId: 'keep',
        },
        /declared as application\/pdf but is not a PDF/,
      ],
      [
        'PDF sent as text',
        { contentBase64: pdf.toString('base64'), mediaType: 'text/plain', documentId: 'keep' },
        /is a PDF/,
      ],
      [
        "a PDF's source sent as content",
        { content: pdf.toString('latin1'), documentId: 'keep' },
        /^content is not text: it looks like a PDF file \(it starts with %PDF-\)\. Send .* contentBase64/,
      ],
      [
        'a program sent as content',
        { content: `#!/bin/sh\n${'\0'.repeat(16)}`, documentId: 'keep' },
        /content is not text: it looks like binary data \(it holds a NUL character at position 10\).*contentBase64/,
      ],
      [
        'unsupported type',
        { contentBase64: 'eA==', mediaType: 'application/msword', documentId: 'keep' },
        /not supported/,
      ],
      [
        'undecodable text',
        { contentBase64: Buffer.from([0x63, 0x61, 0x66, 0xe9]).toString('base64'), documentId: 'keep' },
        /not valid UTF-8/,
      ],
      [
        'malformed JSON',
        { content: '{"a": [1,', mediaType: 'application/json', documentId: 'keep' },
        /not valid JSON/,
      ],
      ['empty file', { path: join(root, 'empty.txt'), documentId: 'keep' }, /empty/],
      ['oversized file', { path: join(root, 'huge.txt'), documentId: 'keep' }, /over the 32 MiB limit/],
      [
        'oversized base64',
        { contentBase64: 'A'.repeat(4_000_004), documentId: 'keep' },
        /contentBase64|too big|4000000/i,
      ],
      [
        'outside the roots',
        { path: join(outside, 'secret.txt'), documentId: 'keep' },
        /outside the ingest roots/,
      ],
      [
        'symlink escaping',
        { path: join(root, 'escape.txt'), documentId: 'keep' },
        /through a symbolic link\) outside the ingest roots/,
      ],
      [
        'dot-dot escaping',
        { path: `${root}/../private/secret.txt`, documentId: 'keep' },
        /outside the ingest roots/,
      ],
      ['missing file', { path: join(root, 'nope.md'), documentId: 'keep' }, /no file at/],
      ['relative path', { path: 'manuals/manual.pdf', documentId: 'keep' }, /absolute/],
      ['a directory', { path: join(root, 'manuals'), documentId: 'keep' }, /not a regular file/],
      ['two sources', { path: join(root, 'empty.txt'), content: 'x' }, /exactly one of content/],
    ];
    for (const [what, args, pattern] of cases) {
      const result = await client.callTool({
        name: 'ingest_document',
        arguments: { collection: COLLECTION, ...args },
      });
      expect(toolError(result), what).toMatch(pattern);
    }

    const after = structured<{ documents: { documentId: string; version: number }[] }>(
      await client.callTool({ name: 'list_documents', arguments: { collection: COLLECTION, limit: 100 } }),
    );
    expect(after.documents.map((d) => [d.documentId, d.version])).toEqual(
      before.documents.map((d) => [d.documentId, d.version]),
    );
    const [hit] = await search('last refuge of a castle');
    expect(hit?.documentId).toBe('keep');
    const secret = await search('vault combination', { mode: 'text', topK: 10 });
    expect(secret).toEqual([]);
  });
});
