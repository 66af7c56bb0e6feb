import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { connectModern, structured } from '../support/clients.ts';
import { TestStack } from '../support/stack.ts';

// With HOPPER_SEARCH_MIRROR_MAX_CHUNKS set, gateways answer searches from memory (docs/architecture.md,
// "The search mirror"). What a client must see: a document as soon as its job says completed, on
// another gateway than the one that took it; a replacement's new words and not its old ones; a
// deleted document gone. And the searches must come from the mirror, not LanceDB.

const COLLECTION = 'logbook';
let stack: TestStack;
let writer: Client;
let reader: Client;

beforeAll(async () => {
  stack = await TestStack.start({
    redisUrl: inject('redisUrl'),
    gateways: 2,
    env: { HOPPER_SEARCH_MIRROR_MAX_CHUNKS: '10000' },
  });
  writer = await connectModern(stack.gateways[0]!.url);
  reader = await connectModern(stack.gateways[1]!.url);
});

afterAll(async () => {
  await writer?.close();
  await reader?.close();
  await stack?.stop();
});

interface Hit {
  documentId: string;
  /** `${documentId}:${version}:${index}`. */
  chunkId: string;
  text: string;
}

async function ingest(documentId: string, content: string): Promise<void> {
  structured(
    await writer.callTool({
      name: 'ingest_document',
      arguments: { collection: COLLECTION, documentId, content, wait: true },
    }),
  );
}

async function search(query: string, mode: 'hybrid' | 'text' | 'vector' = 'hybrid'): Promise<Hit[]> {
  const result = structured<{ results: Hit[] }>(
    await reader.callTool({ name: 'search', arguments: { collection: COLLECTION, query, mode, topK: 10 } }),
  );
  return result.results;
}

/** A sample's value on a gateway's `/metrics` (0 when absent); its labels start with `labels`. */
async function metric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(url.replace('/mcp', '/metrics'))).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}`));
  return Number(line?.split(' ').at(-1) ?? 0);
}

const mirrorSearches = (url: string) => metric(url, 'hopper_store_searches_total', 'engine="mirror"');

describe('the search mirror, through two gateways', () => {
  it('finds what a job completed on another gateway, the new version of a replacement, and no deleted document', async () => {
    // The first document: the mirror has something to load.
    await ingest('first-night', '# First night\nThe keeper lit the lamp at dusk and trimmed the wick twice.');
    const before = await mirrorSearches(stack.gateways[1]!.url);

    for (let i = 0; i < 5; i++) {
      await ingest(
        `gale-${i}`,
        `# Gale ${i}\nA gale from the north-east; the barometer fell to ${950 + i} hPa.`,
      );
      // Each completed job is found at once by the other gateway's very next search.
      const hits = await search(`gale barometer ${950 + i}`);
      expect(hits.map((hit) => hit.documentId)).toContain(`gale-${i}`);
    }

    await ingest('first-night', '# First night\nFog all night; the foghorn sounded every thirty seconds.');
    const replaced = await search('foghorn fog', 'text');
    expect(replaced[0]?.chunkId).toBe('first-night:2:0');
    expect((await search('trimmed the wick', 'text')).map((hit) => hit.documentId)).not.toContain(
      'first-night',
    );

    structured(
      await writer.callTool({
        name: 'delete_document',
        arguments: { collection: COLLECTION, documentId: 'gale-2' },
      }),
    );
    expect((await search('gale barometer 952', 'vector')).map((hit) => hit.documentId)).not.toContain(
      'gale-2',
    );

    // Answered from memory, not by LanceDB.
    expect(await mirrorSearches(stack.gateways[1]!.url)).toBeGreaterThanOrEqual(before + 8);
    // It holds the live chunks: five gales less the deleted one, and the replaced first night.
    expect(await metric(stack.gateways[1]!.url, 'hopper_search_mirror_rows')).toBe(5);
  });
});
