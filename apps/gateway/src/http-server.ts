import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { isLegacyRequest, type AuthInfo } from '@modelcontextprotocol/server';
import type { NodeMcpRequestHandler } from '@modelcontextprotocol/node';
import { isHopperError, limits } from '@hopper/contracts';
import { withTimeout, type Logger } from '@hopper/lifecycle';
import type { AllowedHosts } from './browser-guard.ts';
import { unauthorizedChallenge } from './auth/challenge.ts';
import type { ProtectedResource } from './auth/protected-resource.ts';
import type { FastPath } from './mcp/fast-path.ts';
import type { TaskPath } from './mcp/task-path.ts';
import type { ListenPath } from './mcp/listen-path.ts';
import type { LegacySessions } from './mcp/legacy-sessions.ts';
import { parseBoundedJson } from './json-body.ts';
import { malformedMethod } from './mcp/request-shapes.ts';
import { jsonRpcError, sendJson } from './mcp/json-rpc.ts';
import { UnauthorizedError, type Caller, type TenantResolver } from './tenant-resolver.ts';
import type { LoadShedder } from './load-shedder.ts';
import { isPagePath, type PageHandler } from './page/page-handler.ts';
import type { RestHandler } from './rest/rest-handler.ts';

export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

export interface HttpServerDeps {
  mcp: NodeMcpRequestHandler;
  /** Session ids for legacy clients at `initialize`, and the routes their cancellations follow. */
  legacy: Pick<LegacySessions, 'newSessionId' | 'cancel'>;
  readiness: ReadinessCheck[];
  /** Who a request acts for (local mode: the one tenant, loopback only; otherwise by API key or JWT). */
  resolveTenant: TenantResolver;
  /** OAuth is configured: the protected resource metadata (RFC 9728), served and named in challenges. */
  protectedResource?: ProtectedResource;
  logger: Logger;
  /** Host names the server answers to: a DNS-rebinding guard while it serves loopback only. */
  allowedHosts: AllowedHosts;
  /** The REST API under `/v1` (it checks Host and Origin itself). */
  rest?: RestHandler;
  /** The progress page at `/` and its `/assets/`. */
  page?: PageHandler;
  /** Prometheus text for `/metrics`. */
  metrics?: () => Promise<{ contentType: string; body: string }>;
  /** Turns MCP and REST requests away with 503 under overload (never health, readiness or metrics). */
  shedder?: LoadShedder;
  /** Answers cached tool calls without the SDK (see mcp/fast-path.ts); what it declines goes to `mcp`. */
  fastPath?: FastPath;
  /** Jobs as MCP tasks (see mcp/task-path.ts): task-creating calls and `tasks/*`; the rest goes to `mcp`. */
  taskPath?: TaskPath;
  /** `subscriptions/listen` of 2026-07-28 clients (see mcp/listen-path.ts); legacy requests go to `mcp`. */
  listenPath?: ListenPath;
}

/**
 * The gateway's HTTP surface: `/mcp` (both protocol eras), `/healthz` (the process is up) and
 * `/readyz` (Redis and the store answer), the REST API (`/v1`) and the progress page (`/`). Socket.IO
 * (`/socket.io`) attaches to the same server (see realtime/), and `/metrics` (Prometheus).
 */
export function createHttpServer(deps: HttpServerDeps): Server {
  const server = createServer((req, res) => {
    handle(req, res, deps).catch((error: unknown) => {
      // A client that hangs up while sending its body is gone: nothing failed on our side.
      if (req.errored === error) return void res.destroy();
      deps.logger.error({ err: error, url: req.url }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.end();
    });
  });
  // Bounds how long a client may take to send its request (headers and at most 4 MiB of body), so a
  // stalled or truncated upload cannot hold a connection forever. It does not limit the response:
  // progress streams may run for minutes.
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  server.on('clientError', answerClientError);
  return server;
}

async function handle(req: IncomingMessage, res: ServerResponse, deps: HttpServerDeps): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
  if (path === '/readyz') return readiness(res, deps.readiness);
  if (deps.protectedResource?.serves(path ?? '')) return deps.protectedResource.handle(req, res);
  if (path === '/metrics' && deps.metrics) {
    const { contentType, body } = await deps.metrics();
    res.writeHead(200, { 'content-type': contentType }).end(body);
    return;
  }
  if (deps.rest && (path === '/v1' || path?.startsWith('/v1/'))) {
    if (deps.shedder?.admit(res, 'rest') === false) return;
    return deps.rest(req, res);
  }
  if (deps.page && path !== undefined && isPagePath(path)) return deps.page(req, res);
  if (path !== '/mcp') return sendJson(res, 404, { error: `no route for ${path}` });

  const host = (req.headers.host ?? '').replace(/:\d+$/, '');
  if (deps.allowedHosts && !deps.allowedHosts.has(host)) {
    return sendJson(res, 403, jsonRpcError(-32000, `host '${host}' is not allowed`));
  }
  let caller: Caller;
  try {
    caller = await deps.resolveTenant({ headers: req.headers, remoteAddress: req.socket.remoteAddress });
  } catch (error) {
    if (error instanceof UnauthorizedError) {
      res.setHeader('www-authenticate', unauthorizedChallenge(error, deps.protectedResource?.metadataUrl));
      return sendJson(res, 401, jsonRpcError(-32001, error.message));
    }
    if (isHopperError(error) && error.code === 'unavailable') {
      return sendJson(res, 503, jsonRpcError(-32603, error.message));
    }
    throw error;
  }
  const { tenant } = caller;
  if (req.method !== 'POST') return deps.mcp(withAuth(req, caller, deps), res);

  const raw = await readBody(req, limits.maxRequestBodyBytes);
  if (raw === undefined) {
    return sendJson(
      res,
      413,
      jsonRpcError(-32600, `request body exceeds ${limits.maxRequestBodyBytes} bytes`),
    );
  }
  // Encoding, nesting, key counts and `_meta` are checked here, before the SDK validates anything.
  const parsed = parseBoundedJson(raw, 'json-rpc');
  if ('problem' in parsed) {
    const { kind, message } = parsed.problem;
    if (kind === 'json') return sendJson(res, 400, jsonRpcError(-32700, `Parse error: ${message}`));
    return sendJson(
      res,
      400,
      jsonRpcError(kind === 'depth' ? -32600 : -32602, message, requestIdOf(parsed.parsed)),
    );
  }
  const body = parsed.value;

  const method = isObject(body) ? body.method : undefined;
  withAuth(req, caller, deps, method === 'tools/call' ? calledToolOf(body) : undefined);
  // Under overload JSON-RPC requests are turned away, but not notifications or responses: a lost
  // `notifications/cancelled` would leave the work it cancels running, and clients never resend one.
  const requestId = isObject(body) && typeof method === 'string' ? body.id : undefined;
  if (requestId !== undefined && deps.shedder?.admit(res, 'mcp', requestId) === false) return;
  // After the Host check, authentication, the body's limits and the shedder, as every call; the
  // fast path checks the tool's scope and charges the rate limit itself.
  if (method === 'tools/call' && deps.fastPath && (await deps.fastPath(req, res, body, caller))) return;
  const taskMethod = method === 'tools/call' || (typeof method === 'string' && method.startsWith('tasks/'));
  if (taskMethod && deps.taskPath && (await deps.taskPath(req, res, body, caller))) return;
  if (
    method === 'subscriptions/listen' &&
    deps.listenPath &&
    (await deps.listenPath(req, res, body, caller))
  ) {
    return;
  }
  const legacy = () =>
    isLegacyRequest(
      new Request(`http://${req.headers.host ?? 'localhost'}${req.url ?? '/mcp'}`, {
        method: 'POST',
        headers: headersOf(req),
      }),
      body,
    );
  const malformed = malformedMethod(body);
  if (malformed && (await legacy())) {
    const id =
      isObject(body) && (typeof body.id === 'string' || typeof body.id === 'number') ? body.id : null;
    return sendJson(res, 400, jsonRpcError(-32602, `invalid params for ${malformed}`, id));
  }
  if ((method === 'notifications/cancelled' || method === 'initialize') && (await legacy())) {
    if (method === 'notifications/cancelled') return legacyCancel(req, res, body, deps, tenant);
    const sessionId = deps.legacy.newSessionId();
    return deps.mcp(req, withHeader(res, 'mcp-session-id', sessionId), body);
  }
  return deps.mcp(req, res, body);
}

/**
 * The SDK hands `req.auth` to the server factory: that is how each request's tools learn their
 * tenant, how its scope challenges (403 insufficient_scope) learn the scopes and metadata URL, and
 * how the factory learns which one tool a `tools/call` can reach (see reachableTools).
 */
function withAuth(
  req: IncomingMessage,
  caller: Caller,
  deps: HttpServerDeps,
  calledTool?: string,
): IncomingMessage {
  const auth: AuthInfo = {
    token: '',
    clientId: caller.tenant,
    scopes: [...caller.scopes],
    ...(caller.expiresAt ? { expiresAt: caller.expiresAt } : {}),
    ...(deps.protectedResource ? { resourceMetadataUrl: deps.protectedResource.metadataUrl } : {}),
    extra: { tenant: caller.tenant, ...(calledTool === undefined ? {} : { calledTool }) },
  };
  return Object.assign(req, { auth });
}

/** The tool a lone `tools/call` request names, if it names one. */
function calledToolOf(body: unknown): string | undefined {
  const params = isObject(body) ? body.params : undefined;
  return isObject(params) && typeof params.name === 'string' ? params.name : undefined;
}

async function legacyCancel(
  req: IncomingMessage,
  res: ServerResponse,
  body: unknown,
  deps: HttpServerDeps,
  tenant: string,
) {
  const sessionId = req.headers['mcp-session-id'];
  const params = isObject(body) && isObject(body.params) ? body.params : {};
  const requestId = params.requestId;
  if (typeof sessionId === 'string' && (typeof requestId === 'string' || typeof requestId === 'number')) {
    await deps.legacy.cancel(sessionId, requestId, tenant);
  }
  res.writeHead(202).end();
}

async function readiness(res: ServerResponse, checks: ReadinessCheck[]): Promise<void> {
  const results = await Promise.all(
    checks.map(async ({ name, check }) => {
      try {
        await withTimeout(check(), 2_000);
        return [name, 'ok'] as const;
      } catch (error) {
        return [name, error instanceof Error ? error.message : String(error)] as const;
      }
    }),
  );
  const ready = results.every(([, status]) => status === 'ok');
  sendJson(res, ready ? 200 : 503, {
    status: ready ? 'ready' : 'not ready',
    checks: Object.fromEntries(results),
  });
}

/** Reads the body up to `max` bytes; `undefined` when it is larger (the rest is not read). */
async function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > max) return undefined;
    chunks.push(buffer);
  }
  // Most bodies arrive in one chunk: no copy then.
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
}

/**
 * The JSON-RPC id of a refused request, so the client can match the error to its call; `null` when
 * the body was refused before it was parsed (JSON-RPC's answer when the id cannot be read).
 */
function requestIdOf(body: unknown): string | number | null {
  const id = isObject(body) ? body.id : undefined;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}

/** Wraps a response so the SDK's own `writeHead` also sends one extra header. */
function withHeader(res: ServerResponse, name: string, value: string): ServerResponse {
  const writeHead = res.writeHead.bind(res) as (
    status: number,
    headers?: Record<string, string>,
  ) => ServerResponse;
  return Object.assign(res, {
    writeHead: (status: number, headers?: Record<string, string>) =>
      writeHead(status, { ...headers, [name]: value }),
  });
}

function headersOf(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers.set(name, value);
    else if (Array.isArray(value)) headers.set(name, value.join(', '));
  }
  return headers;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Requests Node refuses before any handler runs (headers or URL over 16 KiB, malformed HTTP) get
 * the same typed JSON error as every other refusal, instead of Node's bare status line.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) return;
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const [status, reason, message] = tooLarge
    ? [431, 'Request Header Fields Too Large', 'the request line and headers must stay under 16 KiB']
    : [400, 'Bad Request', 'the request is not valid HTTP'];
  const body = JSON.stringify({ error: { code: 'invalid_argument', message } });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
