import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Redis } from 'ioredis';
import {
  contentHash,
  createKeys,
  ingestFingerprint,
  ingestJobId,
  toolContracts,
  type IngestPayload,
} from '@hopper/contracts';
import { resolveChunkOptions } from '@hopper/documents';
import type { Logger } from '@hopper/lifecycle';
import type { TenantEmbedder } from '@hopper/cache';
import type { StoreReader } from '@hopper/store';
import type { JobsService, SubmittedJob } from '@hopper/jobs';
import type * as IngestPath from './ingest-path.ts';
import { jobTools } from './job-tools.ts';

// Counts whole-file reads of path ingests: the point of hashing first is that a repeat never reads.
const reads = vi.hoisted(() => ({ count: 0 }));
vi.mock('./ingest-path.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof IngestPath>();
  return {
    ...actual,
    openFileUnderRoots: async (...args: Parameters<typeof actual.openFileUnderRoots>) => {
      const file = await actual.openFileUnderRoots(...args);
      return {
        ...file,
        hash: () => file.hash(),
        close: () => file.close(),
        read: () => {
          reads.count++;
          return file.read();
        },
      };
    },
  };
});

/** The jobs service as far as the tool uses it: remembers what was submitted, by job id. */
class JobsDouble {
  readonly submitted: IngestPayload[] = [];
  readonly looked: string[] = [];
  readonly #jobs = new Set<string>();

  findIngest(payload: Pick<IngestPayload, 'tenant' | 'collection' | 'documentId' | 'contentHash'>) {
    this.looked.push(payload.contentHash);
    const jobId = ingestJobId(payload.tenant, payload.collection, payload.documentId, payload.contentHash);
    return Promise.resolve<SubmittedJob | undefined>(
      this.#jobs.has(jobId) ? { jobId, state: 'queued', deduplicated: true } : undefined,
    );
  }

  submitIngest(payload: IngestPayload): Promise<SubmittedJob> {
    this.submitted.push(payload);
    const jobId = ingestJobId(payload.tenant, payload.collection, payload.documentId, payload.contentHash);
    const deduplicated = this.#jobs.has(jobId);
    this.#jobs.add(jobId);
    return Promise.resolve({ jobId, state: 'queued', deduplicated });
  }
}

/** Redis as far as path-id claims use it. */
function redisDouble(): Redis {
  const values = new Map<string, string>();
  return {
    set: (key: string, value: string, ..._options: unknown[]) => {
      if (values.has(key)) return Promise.resolve(null);
      values.set(key, value);
      return Promise.resolve('OK');
    },
    get: (key: string) => Promise.resolve(values.get(key) ?? null),
    del: (key: string) => Promise.resolve(values.delete(key) ? 1 : 0),
  } as unknown as Redis;
}

let root: string;
let jobs: JobsDouble;
let tools: ReturnType<typeof jobTools>;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hopper-job-tools-'));
  await writeFile(join(root, 'notes.md'), '# Lamps\n\nThe keeper trims the wick.\n');
  await writeFile(join(root, 'README'), '# Lamps\n\nNo extension: only the content tells.\n');
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

beforeEach(() => {
  reads.count = 0;
  jobs = new JobsDouble();
  tools = jobTools({
    redis: redisDouble(),
    keys: createKeys('test'),
    jobs: jobs as unknown as JobsService,
    store: { getDocument: () => Promise.resolve(undefined) } as unknown as StoreReader,
    embedder: {} as TenantEmbedder,
    logger: {} as Logger,
    ingestRoots: [root],
  });
});

const call = { tenant: 'acme', signal: new AbortController().signal };

function ingest(args: Record<string, unknown>) {
  return tools.ingest_document(toolContracts.ingest_document.input.parse({ wait: false, ...args }), call);
}

describe('ingest_document {path}: the pre-check and the submit compute one fingerprint', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['the extension names the type', {}, 'text/markdown'],
    ['a declared type', { mediaType: 'text/plain' }, 'text/plain'],
    ['an alias, declared', { mediaType: 'text/x-markdown; charset=utf-8' }, 'text/markdown'],
    [
      'title, metadata and chunking',
      { title: 'Lamps', metadata: { b: 2, a: 'x' }, chunking: { maxChars: 300 } },
      'text/markdown',
    ],
    ['a filename that names another type', { filename: 'notes.txt' }, 'text/plain'],
  ];

  for (const [what, args, mediaType] of cases) {
    it(`${what}: a repeat is answered without reading the file`, async () => {
      const path = join(root, 'notes.md');
      const first = await ingest({ path, ...args });
      expect(reads.count).toBe(1);
      const [payload] = jobs.submitted;
      // The fingerprint the contracts define, over the metadata as stored (with the file's path).
      const metadata = { ...((args.metadata as object | undefined) ?? {}), 'hopper.path': path };
      const expected = ingestFingerprint(contentHash('# Lamps\n\nThe keeper trims the wick.\n'), {
        mediaType,
        title: args.title as string | undefined,
        metadata,
        chunking: resolveChunkOptions((args.chunking as { maxChars: number } | undefined) ?? {}),
      });
      expect(payload).toMatchObject({ mediaType, metadata, contentHash: expected, documentId: 'notes.md' });
      // The pre-check looked the same fingerprint up before the file was read.
      expect(jobs.looked).toEqual([expected]);

      const again = await ingest({ path, ...args });
      expect(again).toMatchObject({ jobId: first.jobId, documentId: 'notes.md' });
      expect(reads.count).toBe(1);
      expect(jobs.submitted).toHaveLength(1);
    });
  }

  it('metadata in another key order is the same ingest; other metadata or title is not', async () => {
    const path = join(root, 'notes.md');
    const first = await ingest({ path, metadata: { a: 1, b: 'x' } });
    expect(await ingest({ path, metadata: { b: 'x', a: 1 } })).toMatchObject({ jobId: first.jobId });
    expect(reads.count).toBe(1);
    const retitled = await ingest({ path, metadata: { a: 1, b: 'x' }, title: 'New title' });
    const remeta = await ingest({ path, metadata: { a: 2, b: 'x' } });
    const retyped = await ingest({ path, metadata: { a: 1, b: 'x' }, mediaType: 'text/plain' });
    expect(new Set([first.jobId, retitled.jobId, remeta.jobId, retyped.jobId]).size).toBe(4);
    expect(reads.count).toBe(4);
  });

  it('reads the file when only its content can tell its type, and still finds the same ingest', async () => {
    const path = join(root, 'README');
    const first = await ingest({ path });
    const again = await ingest({ path });
    // No extension, no declared type: the content is sniffed, so the pre-check cannot run.
    expect(jobs.looked).toEqual([]);
    expect(reads.count).toBe(2);
    expect(again.jobId).toBe(first.jobId);
    expect(jobs.submitted.map((p) => p.contentHash)).toEqual([
      jobs.submitted[0]!.contentHash,
      jobs.submitted[0]!.contentHash,
    ]);
    expect(jobs.submitted[0]).toMatchObject({ mediaType: 'text/markdown' });
    // Declaring the type the content was sniffed as lets the pre-check run, and it computes the
    // fingerprint the submits did: the same ingest, found without reading the file.
    const declared = await ingest({ path, mediaType: 'text/markdown' });
    expect(declared.jobId).toBe(first.jobId);
    expect(jobs.looked).toEqual([jobs.submitted[0]!.contentHash]);
    expect(reads.count).toBe(2);
    expect(jobs.submitted).toHaveLength(2);
  });
});
