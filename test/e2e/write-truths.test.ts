import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { UriTemplate, type Client } from '@modelcontextprotocol/client';
import { createKeys } from '@hopper/contracts';
import {
  DocumentWriteLocks,
  RedisCommitClock,
  RedisDocumentListing,
  RedisDocumentRecords,
} from '@hopper/redis';
import { openStoreWriter, type DocumentRecord } from '@hopper/store';
import {
  connectLegacy,
  connectModern,
  getJob,
  structured,
  toolError,
  waitForEmbeddingJob,
  waitForJob,
  type JobOut,
  type LegacyClient,
} from '../support/clients.ts';
import { EmbeddingsDouble } from '../support/embeddings-double.ts';
import { paragraphsAbout } from '../support/fault-documents.ts';
import { TestStack } from '../support/stack.ts';

// #21: every write means what it says. Two tenants (API keys), one gateway, one worker running two
// jobs at once (a tenant's slow job must not hold up the other's), workers embedding through a double
// that counts what reaches the "provider".
const ACME = 'acme-key-0123456789abcdef';
const GLOBEX = 'globex-key-0123456789abcdef';

let stack: TestStack;
let embeddings: EmbeddingsDouble;
let acme: Client;
let globex: Client;

beforeAll(async () => {
  embeddings = await EmbeddingsDouble.start();
  stack = await TestStack.start({
    redisUrl: inject('redisUrl'),
    env: {
      ...embeddings.env,
      HOPPER_API_KEYS: `acme:${ACME},globex:${GLOBEX}`,
      HOPPER_WORKER_CONCURRENCY: '2',
    },
  });
  acme = await connectModern(stack.url, { requestInit: { headers: { authorization: `Bearer ${ACME}` } } });
  globex = await connectModern(stack.url, {
    requestInit: { headers: { authorization: `Bearer ${GLOBEX}` } },
  });
});

afterAll(async () => {
  await acme?.close();
  await globex?.close();
  await stack?.stop();
  await embeddings?.stop();
});

interface IngestOut {
  jobId: string;
  documentId: string;
  state: string;
  version?: number;
  chunks?: number;
}

interface DocumentOut {
  documentId: string;
  title: string;
  mediaType: string;
  version: number;
  metadata: Record<string, unknown>;
}

async function ingest(client: Client, args: Record<string, unknown>): Promise<IngestOut> {
  return structured<IngestOut>(await client.callTool({ name: 'ingest_document', arguments: args }));
}

async function getDocument(client: Client, documentId: string): Promise<DocumentOut> {
  return structured<DocumentOut>(await client.callTool({ name: 'get_document', arguments: { documentId } }));
}

/** Document ids a text search with `filter` finds (text mode: the query needs no embedding). */
async function findWith(query: string, filter: Record<string, unknown>): Promise<string[]> {
  const out = structured<{ results: { documentId: string }[] }>(
    await acme.callTool({ name: 'search', arguments: { query, mode: 'text', filter, topK: 10 } }),
  );
  return out.results.map((r) => r.documentId);
}

/** `POST /v1/documents` as acme. */
function restIngest(body: Record<string, unknown>): Promise<Response> {
  return fetch(stack.url.replace('/mcp', '/v1/documents'), {
    method: 'POST',
    headers: { authorization: `Bearer ${ACME}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('item 3: a re-ingest with new metadata, title, media type or chunking is a new version', () => {
  const text = 'Harbour log.\n\nThe pilot boat went out at six and came back with the tide at nine.';

  it('stores each change as a new version, and identical input stays one job', async () => {
    const first = await ingest(acme, { content: text, documentId: 'harbour', metadata: { lang: 'en' } });
    expect(first).toMatchObject({ state: 'completed', version: 1 });
    const embeddedBefore = embeddings.texts.length;

    // Only the metadata changes: a new version that the filter sees, not "completed, version 1".
    const german = await ingest(acme, { content: text, documentId: 'harbour', metadata: { lang: 'de' } });
    expect(german).toMatchObject({ state: 'completed', version: 2 });
    expect(german.jobId).not.toBe(first.jobId);
    expect((await getDocument(acme, 'harbour')).metadata).toEqual({ lang: 'de' });
    expect(await findWith('pilot boat', { lang: 'de' })).toEqual(['harbour']);
    expect(await findWith('pilot boat', { lang: 'en' })).toEqual([]);
    // The chunks' texts did not change, so their vectors came from the worker's embedding cache.
    expect(embeddings.texts.length).toBe(embeddedBefore);

    // The same input again is the same job, and the same version.
    const again = await ingest(acme, { content: text, documentId: 'harbour', metadata: { lang: 'de' } });
    expect(again).toMatchObject({ jobId: german.jobId, state: 'completed', version: 2 });

    const titled = await ingest(acme, {
      content: text,
      documentId: 'harbour',
      metadata: { lang: 'de' },
      title: 'Pilot boat log',
    });
    expect(titled.version).toBe(3);
    expect((await getDocument(acme, 'harbour')).title).toBe('Pilot boat log');

    const markdown = await ingest(acme, {
      content: text,
      documentId: 'harbour',
      metadata: { lang: 'de' },
      title: 'Pilot boat log',
      mediaType: 'text/markdown',
    });
    expect(markdown.version).toBe(4);
    expect((await getDocument(acme, 'harbour')).mediaType).toBe('text/markdown');

    const rechunked = await ingest(acme, {
      content: text,
      documentId: 'harbour',
      metadata: { lang: 'de' },
      title: 'Pilot boat log',
      mediaType: 'text/markdown',
      chunking: { maxChars: 100 },
    });
    expect(rechunked.version).toBe(5);

    // Two metadata keys, given in either order: one ingest.
    const twoKeys = await ingest(acme, { content: text, documentId: 'keys', metadata: { a: 1, b: 'x' } });
    const swapped = await ingest(acme, { content: text, documentId: 'keys', metadata: { b: 'x', a: 1 } });
    expect(swapped).toMatchObject({ jobId: twoKeys.jobId, version: 1 });
  });
});

describe('item 4: document resources read ids with "/", spaces and non-ASCII letters', () => {
  // Ids the tools take: since #21 item 1 these include letters of any script and `~` (the escape of
  // path-derived ids, so `report (1).txt` is `report~20~281~29.txt`). Spaces, `,` and `%` are still
  // refused at ingest; the store holds any id, so those are written to it directly, by a store
  // opened as a worker opens it (the listing, the record copies, the locks and the commit clock in
  // the stack's Redis), to show the resource reads whatever a document is called.
  const ingested = [
    'guides/setup.md',
    'team:ops@north/log-1.md',
    'café/über-straße.md'.normalize('NFC'),
    'docs/report~20~281~29.txt',
  ];
  const stored = ['notes with spaces', 'café/über straße.md'.normalize('NFC'), 'a,b', '100% done'];
  let legacy: LegacyClient;

  beforeAll(async () => {
    for (const documentId of ingested) {
      await ingest(acme, { content: `The document named ${documentId} is about lamps.`, documentId });
    }
    const keys = createKeys(stack.prefix);
    const store = await openStoreWriter({
      uri: stack.storeUri,
      listing: new RedisDocumentListing(stack.redis, keys),
      recordCopies: new RedisDocumentRecords<DocumentRecord>(stack.redis, keys),
      documentLocks: new DocumentWriteLocks(stack.redis, keys),
      commitClock: new RedisCommitClock(stack.redis, keys),
    });
    try {
      for (const documentId of stored) {
        await store.replaceDocument(
          {
            tenant: 'acme',
            collection: 'default',
            documentId,
            title: documentId,
            mediaType: 'text/plain',
            contentHash: documentId,
            metadata: {},
            model: embeddings.model,
          },
          [
            {
              text: 'About lamps.',
              headingPath: [],
              start: 0,
              end: 12,
              vector: new Float32Array(64).fill(0.125),
            },
          ],
        );
      }
    } finally {
      await store.close();
    }
    legacy = await connectLegacy(stack.url, {
      requestInit: { headers: { authorization: `Bearer ${ACME}` } },
    });
  });

  afterAll(async () => {
    await legacy?.close();
  });

  /** The URIs a client may write for `id`: expanded from the advertised template, encoded, raw. */
  function urisFor(template: string, id: string): string[] {
    return [
      new UriTemplate(template).expand({ documentId: id }),
      `hopper://documents/${encodeURIComponent(id)}`,
      // Written as it is: `/` stays a `/`, and the URL parser encodes spaces and letters. A raw `%`
      // starts an escape, so an id holding one must be encoded.
      ...(id.includes('%') ? [] : [`hopper://documents/${id}`]),
    ];
  }

  it('reads each id with the v2 and the v1 SDK client, however the URI spells it', async () => {
    const { resourceTemplates } = await acme.listResourceTemplates();
    const template = resourceTemplates.find((t) => t.name === 'document')?.uriTemplate ?? '';
    const readers = [
      ['v2', (uri: string) => acme.readResource({ uri })],
      ['v1', (uri: string) => legacy.readResource({ uri })],
    ] as const;
    const failures: string[] = [];
    for (const id of [...ingested, ...stored]) {
      for (const uri of urisFor(template, id)) {
        for (const [sdk, read] of readers) {
          try {
            const result = await read(uri);
            const view = JSON.parse((result.contents[0] as { text: string }).text) as { documentId: string };
            if (view.documentId !== id) failures.push(`${sdk} ${uri}: read '${view.documentId}'`);
          } catch (error) {
            failures.push(`${sdk} ${uri}: ${(error as Error).message}`);
          }
        }
      }
    }
    expect(failures).toEqual([]);
    // RFC 6570 reserved expansion: a client expanding the template keeps the id's `/` as it is.
    expect(template).toBe('hopper://documents/{+documentId}');
    // Job resources: ids are plain, and read the same way.
    const { jobs } = structured<{ jobs: JobOut[] }>(
      await acme.callTool({ name: 'list_jobs', arguments: {} }),
    );
    const jobId = jobs[0]?.jobId ?? '';
    const job = await legacy.readResource({ uri: `hopper://jobs/${jobId}` });
    expect(JSON.parse((job.contents[0] as { text: string }).text)).toMatchObject({ jobId });
    // An id that does not exist is still "not found", and so is another tenant's document.
    await expect(acme.readResource({ uri: 'hopper://documents/guides/missing.md' })).rejects.toThrow(
      /not found/i,
    );
    await expect(globex.readResource({ uri: 'hopper://documents/guides/setup.md' })).rejects.toThrow(
      /not found/i,
    );
  });
});

describe("item 5: a legacy cancel route is its tenant's own", () => {
  /** What a v1 client put on the wire, and the session id it was given. */
  interface Wire {
    sessionId?: string;
    lastRequestId?: number;
  }

  /**
   * A v1 SDK client of the tenant with `key`. `forgeSession` stands for a caller that presents
   * someone else's session id: its fetch swaps the header on every request after `initialize`.
   */
  async function legacyClient(
    key: string,
    wire: Wire,
    forgeSession?: () => string | undefined,
  ): Promise<LegacyClient> {
    const watched: typeof fetch = async (input, init) => {
      const headers = new Headers(init?.headers);
      const forged = forgeSession?.();
      if (forged && headers.has('mcp-session-id')) headers.set('mcp-session-id', forged);
      if (typeof init?.body === 'string') {
        const message = JSON.parse(init.body) as { id?: unknown };
        if (typeof message.id === 'number') wire.lastRequestId = message.id;
      }
      const response = await fetch(input, { ...init, headers });
      wire.sessionId = response.headers.get('mcp-session-id') ?? wire.sessionId;
      return response;
    };
    return connectLegacy(stack.url, {
      requestInit: { headers: { authorization: `Bearer ${key}` } },
      fetch: watched,
    });
  }

  it('another tenant with her session and request id can neither take nor drop her cancel', async () => {
    const acmeWire: Wire = {};
    const globexWire: Wire = {};
    const victim = await legacyClient(ACME, acmeWire);
    const intruder = await legacyClient(GLOBEX, globexWire, () => acmeWire.sessionId);
    // Slow embedding: the victim's job runs for several seconds, the intruder's too.
    embeddings.delayMs = 300;
    const victimAbort = new AbortController();
    const victimCall = victim
      .callTool(
        {
          name: 'ingest_document',
          arguments: { content: paragraphsAbout('lantern', 800), documentId: 'lantern' },
        },
        undefined,
        { signal: victimAbort.signal, onprogress: () => undefined, timeout: 120_000 },
      )
      .catch((error: unknown) => error);
    const victimJob = await waitForEmbeddingJob(acme, 'lantern');
    const requestId = acmeWire.lastRequestId ?? -1;

    // The intruder brings its JSON-RPC ids level with hers, then makes a waiting call under her
    // session id and request id (its own ingest), and cancels it.
    while ((globexWire.lastRequestId ?? -1) < requestId - 1) await intruder.ping();
    const intruderAbort = new AbortController();
    const intruderCall = intruder
      .callTool(
        {
          name: 'ingest_document',
          arguments: { content: paragraphsAbout('crowbar', 400), documentId: 'crowbar' },
        },
        undefined,
        { signal: intruderAbort.signal, onprogress: () => undefined, timeout: 120_000 },
      )
      .catch((error: unknown) => error);
    const intruderJob = await waitForEmbeddingJob(globex, 'crowbar');
    expect(globexWire.lastRequestId).toBe(requestId);
    intruderAbort.abort();
    expect(await intruderCall).toBeInstanceOf(Error);
    // Its cancel stops its own job, not hers.
    expect((await waitForJob(globex, intruderJob, (j) => j.state !== 'active')).state).toBe('cancelled');
    expect((await getJob(acme, victimJob)).state).toBe('active');

    // Her own cancel still reaches her job.
    victimAbort.abort();
    expect(await victimCall).toBeInstanceOf(Error);
    const ended = await waitForJob(acme, victimJob, (j) => j.state !== 'active');
    expect(ended.state).toBe('cancelled');
    expect(
      toolError(await acme.callTool({ name: 'get_document', arguments: { documentId: 'lantern' } })),
    ).toMatch(/not found/);
    embeddings.delayMs = 0;
    await victim.close();
    await intruder.close();
  });
});

describe('item 6: small protocol truths', () => {
  it('"the same ingest is being submitted elsewhere" says when to retry (REST and MCP)', async () => {
    const body = { content: 'Keepers trim the wick every evening.', documentId: 'wick' };
    const queued = (await (await restIngest({ ...body, wait: false })).json()) as IngestOut;
    // A gateway that died deciding about this ingest leaves its enqueue lock behind for 10 s.
    const keys = createKeys(stack.prefix);
    await stack.redis.set(keys.enqueueLock('acme', queued.jobId), 'a-dead-gateway', 'PX', 10_000);

    const [rest, mcp] = await Promise.all([
      restIngest(body),
      acme.callTool({ name: 'ingest_document', arguments: body }),
    ]);
    expect(rest.status).toBe(429);
    const retryAfter = Number(rest.headers.get('retry-after'));
    // The lock's time left, in whole seconds: the caller has waited ~5 of its 10.
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(10);
    expect(((await rest.json()) as { error: { code: string } }).error.code).toBe('busy');
    expect(toolError(mcp)).toMatch(/submitted elsewhere; retry after \d+ s/);
    const meta = (mcp as { _meta?: Record<string, { code: string; retryAfterSeconds?: number }> })._meta;
    const error = meta?.['hopper/error'];
    expect(error?.code).toBe('busy');
    expect(error?.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(error?.retryAfterSeconds).toBeLessThanOrEqual(10);
    await stack.redis.del(keys.enqueueLock('acme', queued.jobId));
  });

  it('wait: false answers 202 with the finished state when the same ingest is already done', async () => {
    const body = { content: 'Fog horns sound every thirty seconds.', documentId: 'fog' };
    const done = await restIngest(body);
    expect(done.status).toBe(200);
    const outcome = (await done.json()) as IngestOut;
    expect(outcome).toMatchObject({ state: 'completed', version: 1 });

    const again = await restIngest({ ...body, wait: false });
    expect(again.status).toBe(202);
    expect(again.headers.get('location')).toBe(`/v1/jobs/${outcome.jobId}`);
    expect(await again.json()).toEqual(outcome);
    // MCP answers the same.
    expect(await ingest(acme, { ...body, wait: false })).toEqual(outcome);
  });
});
