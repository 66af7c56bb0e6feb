/**
 * The plain-SDK peer: the `search` tool served the way the MCP SDK's own examples serve a tool, as
 * a baseline for what Hopper's gateway adds or saves. A per-request `McpServer` from a factory,
 * `createMcpHandler` (both protocol eras, stateless), `toNodeHandler` on a `node:http` server with
 * the SDK's localhost Host/Origin guards. The tool is Hopper's own contract (same input and output
 * schemas, so the SDK validates the same things) and does what Hopper's search does on a miss:
 * embed the query with the same embedder, then the same store search over the same LanceDB
 * directory. What it leaves out is everything Hopper adds: the result and embedding caches, Redis,
 * tracing, metrics, tenants.
 *
 * With `--result FILE` (a JSON-RPC result as Hopper sent it for a cached search) the tool does no I/O
 * at all and answers that result's `structuredContent`, built once: the `plain-sdk-fixed` peer, the
 * SDK's own floor for one tool call (its per-request server, validation and serialisation), which
 * is what a cached answer served through the SDK cannot go below.
 *
 *   node apps/bench/src/peers/plain-sdk-server.ts --store DIR [--tenant local]
 *   node apps/bench/src/peers/plain-sdk-server.ts --result FILE
 *
 * Prints `listening <url>` when ready.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import {
  localhostHostValidation,
  localhostOriginValidation,
  toNodeHandler,
} from '@modelcontextprotocol/node';
import { McpServer, createMcpHandler, type CallToolResult } from '@modelcontextprotocol/server';
import { DEFAULT_COLLECTION, toolContracts } from '@hopper/contracts';
import { createBuiltinEmbedder } from '@hopper/embeddings';
import { openStoreReader } from '@hopper/store';

const { values } = parseArgs({
  options: {
    store: { type: 'string' },
    result: { type: 'string' },
    tenant: { type: 'string', default: 'local' },
  },
});
if ((values.store === undefined) === (values.result === undefined)) {
  process.stderr.write('usage: plain-sdk-server.ts --store DIR [--tenant local] | --result FILE\n');
  process.exit(2);
}
const tenant = values.tenant;
const embedder = createBuiltinEmbedder();
const store = values.store
  ? await openStoreReader({ uri: values.store, readConsistencyIntervalSeconds: 0 })
  : undefined;
const fixed = values.result ? await fixedResult(values.result) : undefined;
const contract = toolContracts.search;

/** The tool result of a cached search, as a tool that has its answer at hand returns it. */
async function fixedResult(file: string): Promise<CallToolResult> {
  const sample = JSON.parse(await readFile(file, 'utf8')) as { structuredContent: Record<string, unknown> };
  const output = sample.structuredContent;
  return { content: [{ type: 'text', text: JSON.stringify(output) }], structuredContent: output };
}

function createSearchServer(): McpServer {
  const server = new McpServer({ name: 'plain-sdk-search', version: '1.0.0' });
  server.registerTool(
    'search',
    {
      title: contract.title,
      description: contract.description,
      inputSchema: contract.input,
      outputSchema: contract.output,
      annotations: contract.annotations,
    },
    async (input): Promise<CallToolResult> => {
      if (fixed) return fixed;
      if (!store) throw new Error('no store');
      const vector = input.mode === 'text' ? undefined : embedder.embedOne(input.query);
      const hits = await store.search(tenant, {
        mode: input.mode,
        text: input.query,
        ...(vector ? { vector, model: embedder.model } : {}),
        topK: input.topK,
        collection: input.collection ?? DEFAULT_COLLECTION,
        ...(input.filter ? { filter: input.filter } : {}),
      });
      const output = {
        results: hits.map((hit) => ({
          documentId: hit.documentId,
          chunkId: hit.chunkId,
          score: hit.score,
          text: hit.text,
          metadata: hit.metadata,
          headingPath: hit.headingPath,
          start: hit.start,
          end: hit.end,
          matched: hit.matched,
          scores: hit.scores,
        })),
        cached: false,
      };
      return { content: [{ type: 'text', text: JSON.stringify(output) }], structuredContent: output };
    },
  );
  return server;
}

const handler = toNodeHandler(createMcpHandler(createSearchServer, { legacy: 'stateless' }));
const validateHost = localhostHostValidation();
const validateOrigin = localhostOriginValidation();
const httpServer = createServer((req, res) => {
  if (!validateHost(req, res) || !validateOrigin(req, res)) return;
  void handler(req, res);
});
httpServer.keepAliveTimeout = 65_000;
httpServer.listen(0, '127.0.0.1', () => {
  const { port } = httpServer.address() as AddressInfo;
  process.stdout.write(`listening http://127.0.0.1:${port}/mcp\n`);
});
process.on('SIGTERM', () => {
  httpServer.closeAllConnections();
  httpServer.close(() => void (store?.close() ?? Promise.resolve()).then(() => process.exit(0)));
});
