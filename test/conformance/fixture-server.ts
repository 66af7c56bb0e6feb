import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { McpServer, type McpRequestContext, type McpServerFactory } from '@modelcontextprotocol/server';
import { Closer, runService, type Logger } from '@hopper/lifecycle';
import { createHttpServer } from '../../apps/gateway/src/http-server.ts';
import { staticCacheHints } from '../../apps/gateway/src/mcp/cache-hints.ts';
import { createMcpEndpoint, nodeMcpHandler } from '../../apps/gateway/src/mcp/node-adapter.ts';
import { TASKS_EXTENSION, createTaskPath } from '../../apps/gateway/src/mcp/task-path.ts';
import { localTenantResolver } from '../../apps/gateway/src/tenant-resolver.ts';
import { createFixtureTasks, registerTaskFixtureTools } from './fixture-tasks.ts';
import { registerFixtures } from './fixtures.ts';
import { requestStateCodec } from './input-required-fixtures.ts';

/**
 * A test-only MCP server for the conformance suite: the reference fixtures (fixtures.ts) served by
 * Hopper's own protocol layer instead of Hopper's tools. Requests go through the gateway's HTTP
 * handling (`createHttpServer`: the Host check, local-mode tenant resolution, body limits and JSON
 * checks, legacy session ids at `initialize` and legacy cancellation), its node adapter and its MCP
 * endpoint (`createMcpEndpoint`: a server per request, both eras, legacy clients stateless), and
 * its task path (`createTaskPath`, the Tasks extension) with the task fixtures kept in memory
 * (fixture-tasks.ts) where the gateway has Hopper's jobs. What it does not have: the listen path
 * (it serves Hopper's jobs and documents from Redis and the store), the fast path (Hopper's cache)
 * and the REST API, page and Socket.IO.
 *
 * Started as its own process by conformance-2026.test.ts: `node test/conformance/fixture-server.ts`
 * with `PORT` (0 for any); it prints a `fixture server listening` log line with its URL.
 */

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** One server per request, as the gateway's own factory (apps/gateway/src/mcp/server-factory.ts). */
function fixtureServerFactory(): McpServerFactory {
  return (request: McpRequestContext) => {
    const server = new McpServer(
      { name: 'hopper-conformance-fixtures', version: '0.0.0' },
      {
        capabilities: {
          tools: {},
          resources: {},
          prompts: {},
          completions: {},
          logging: {},
          extensions: { [TASKS_EXTENSION]: {} },
        },
        cacheHints: { ...staticCacheHints, 'prompts/list': staticCacheHints['tools/list'] },
        // Multi-round-trip state is sealed, and a tampered one refused before any handler runs.
        requestState: { verify: (state, ctx) => requestStateCodec.verify(state, ctx) },
      },
    );
    registerFixtures(server, request);
    registerTaskFixtureTools(server, request.era === 'modern');
    return server;
  };
}

/**
 * Legacy session ids as the gateway hands them out. No fixture runs a job, so no legacy request
 * ever waits on one and a `notifications/cancelled` finds nothing to cancel (the gateway's
 * LegacySessions would look its route up in Redis and find none either).
 */
const legacySessions = {
  newSessionId: () => randomUUID(),
  cancel: () => Promise.resolve(false),
};

async function start(config: { port: number }, logger: Logger): Promise<Closer> {
  const closer = new Closer();
  const mcp = createMcpEndpoint(fixtureServerFactory(), logger);
  closer.add('mcp handler', () => mcp.close());
  const server = createHttpServer({
    mcp: nodeMcpHandler(mcp),
    legacy: legacySessions,
    readiness: [],
    resolveTenant: localTenantResolver('local'),
    logger,
    allowedHosts: LOOPBACK_HOSTS,
    taskPath: createTaskPath({
      source: createFixtureTasks(),
      logger,
      serverInfo: { name: 'hopper-conformance-fixtures', version: '0.0.0' },
    }),
  });
  server.listen(config.port, '127.0.0.1');
  await once(server, 'listening');
  closer.add('http server', async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  });
  const { port } = server.address() as AddressInfo;
  logger.info({ url: `http://127.0.0.1:${port}/mcp`, port }, 'fixture server listening');
  return closer;
}

await runService({
  name: 'conformance-fixtures',
  loadConfig: () => ({ port: Number(process.env.PORT ?? 0), logLevel: process.env.LOG_LEVEL ?? 'info' }),
  start,
});
