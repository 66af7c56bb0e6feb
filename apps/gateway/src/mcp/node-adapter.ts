import type { IncomingMessage, ServerResponse } from 'node:http';
import { once } from 'node:events';
import {
  createMcpHandler,
  type AuthInfo,
  type McpHttpHandler,
  type McpServerFactory,
} from '@modelcontextprotocol/server';
import { toNodeHandler, type NodeMcpRequestHandler } from '@modelcontextprotocol/node';
import type { Logger } from '@hopper/lifecycle';

/**
 * The SDK's MCP endpoint as Hopper serves it: a fresh server from `factory` for every request, both
 * protocol eras, legacy clients served statelessly (any replica answers any request; see
 * legacy-sessions.ts for the one thing that needs more). The gateway and the conformance fixture
 * server (test/conformance/fixture-server.ts) both build theirs here, so they serve alike.
 */
export function createMcpEndpoint(factory: McpServerFactory, logger: Logger): McpHttpHandler {
  return createMcpHandler(factory, {
    legacy: 'stateless',
    onerror: (error) => logger.debug({ err: error }, 'mcp request rejected'),
  });
}

/**
 * Serves the SDK's web-standard MCP handler on node:http. The HTTP layer has already read and
 * parsed every POST body (http-server.ts, for its limits); the SDK's own adapter (`toNodeHandler`)
 * would serialise that body again into the `Request` it builds, and copy every answer through a
 * web stream. Here the `Request` carries no body (the SDK takes `parsedBody` instead and never
 * reads it), and a JSON answer is written in one piece. Event streams (progress notifications)
 * are piped with back-pressure. A client that hangs up aborts the request's signal either way:
 * that is how a waiting call learns its caller is gone.
 *
 * Requests without a parsed body (GET streams and DELETE of legacy sessions) go to the SDK's
 * adapter unchanged.
 */
export function nodeMcpHandler(handler: McpHttpHandler): NodeMcpRequestHandler {
  const others = toNodeHandler(handler);
  return async (req, res, parsedBody) => {
    if (parsedBody === undefined) return others(req, res);
    const request = req as IncomingMessage & { auth?: AuthInfo };
    const response = res as ServerResponse;
    const abort = new AbortController();
    let finished = false;
    response.on('close', () => {
      if (!finished) abort.abort();
    });
    const answer = await handler.fetch(
      new Request(`http://${request.headers.host ?? 'localhost'}${request.url ?? '/mcp'}`, {
        method: request.method ?? 'POST',
        headers: headersOf(request),
        signal: abort.signal,
      }),
      { parsedBody, ...(request.auth ? { authInfo: request.auth } : {}) },
    );
    response.writeHead(answer.status, plainHeaders(answer.headers));
    const streamed = answer.headers.get('content-type')?.startsWith('text/event-stream');
    try {
      if (answer.body !== null && streamed) await pipeStream(answer.body, response, abort.signal);
      const bytes =
        answer.body !== null && !streamed ? new Uint8Array(await answer.arrayBuffer()) : undefined;
      finished = true;
      response.end(bytes);
    } finally {
      if (!finished) response.end();
    }
  };
}

async function pipeStream(body: ReadableStream<Uint8Array>, res: ServerResponse, closed: AbortSignal) {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || closed.aborted) break;
      if (!res.write(value)) await once(res, 'drain', { signal: closed });
    }
  } catch (error) {
    // The client hung up while the stream was waiting to drain: nothing more to send.
    if (!closed.aborted) throw error;
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

function plainHeaders(headers: Headers): Record<string, string> {
  const plain: Record<string, string> = {};
  headers.forEach((value, name) => (plain[name] = value));
  return plain;
}

function headersOf(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else headers.set(name, value);
  }
  return headers;
}
