import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { CachedAnswer, CacheLookup, CacheMiss, FastCachedTool, ResultCache } from '@hopper/cache';
import type { AuthInfo } from '@modelcontextprotocol/server';
import { toolContracts, toolScopes, type CallContext, type ToolHandlers } from '@hopper/contracts';
import { SpanStatusCode, context, trace, type Span, type Tracer } from '@opentelemetry/api';
import type { ChargeTenant } from '../tenant-rate-limit.ts';
import type { Caller } from '../tenant-resolver.ts';
import type { RecordCall } from '../tools/instrumented.ts';
import { checkedOutput, toolSuccess } from './tool-result.ts';

/** The protocol revisions the fast path speaks; anything else goes through the SDK. */
const MODERN_VERSION = '2026-07-28';
const LEGACY_VERSION = '2025-11-25';

const FAST_TOOLS: ReadonlySet<string> = new Set<FastCachedTool>([
  'search',
  'get_document',
  'list_documents',
  'list_chunks',
  // Finished jobs only: a running job is never cached, so its calls miss and go through the SDK.
  'get_job',
]);

/** The `_meta` envelope a modern (2026-07-28) request carries, and nothing else. */
const ENVELOPE = {
  version: 'io.modelcontextprotocol/protocolVersion',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  capabilities: 'io.modelcontextprotocol/clientCapabilities',
} as const;

/**
 * The SDK's answer headers, as it writes them (checked by test/e2e/fast-path.test.ts): a modern
 * call without a progress token is answered with plain JSON whatever the `Accept`; a legacy call
 * with an SSE stream holding one `event: message` (no event id: Hopper keeps no event store) and no
 * `mcp-session-id` (the stateless legacy transport has none; only `initialize` hands one out). The
 * fast path adds `content-length`, where the SDK's stream goes out chunked.
 */
const SSE_HEADERS = {
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'content-type': 'text/event-stream',
  'x-accel-buffering': 'no',
};

const JSON_HEADERS = { 'content-type': 'application/json' };
const MODERN_HEAD = Buffer.from('{"result":{');
const LEGACY_HEAD = Buffer.from('event: message\ndata: {"result":{');

export interface FastPathDeps {
  lookup: CacheLookup;
  /** The tool chain the SDK path calls (timing, rate limit, result cache, the tools), for misses. */
  handlers: Pick<ToolHandlers, FastCachedTool>;
  cache: Pick<ResultCache, 'rendered'>;
  /** The tenant's rate limit, charged for a hit as the tool chain charges every call. */
  charge?: ChargeTenant;
  /** The tool chain's duration histogram and slow-call warning. */
  record: RecordCall;
  tracer: Tracer;
  /** What the modern era names in every result's `_meta` (the SDK's `serverInfo`). */
  serverInfo: { name: string; version: string };
}

/**
 * Answers a cached tool call, or returns false for the caller to send the request through the SDK.
 * Called after Host checks, authentication, the load shedder and the body's limits.
 */
export type FastPath = (
  req: IncomingMessage,
  res: ServerResponse,
  body: unknown,
  caller: Caller,
) => Promise<boolean>;

type Era = 'modern' | 'legacy';

interface FastCall {
  era: Era;
  tool: FastCachedTool;
  args: Record<string, unknown>;
  id: string | number;
}

/**
 * The read-only tools' calls answered in front of the SDK (issue #16; misses since #15's reads
 * under ingestion). A lone `tools/call` of a result-cached tool, in a shape this module fully
 * understands, is looked up in the result cache (the collection's epoch read now, as on every
 * cached call):
 * - a hit is answered with the result's serialised JSON (made once per L1 entry, see
 *   `ResultCache.rendered`) with the request's id spliced in, in the framing the SDK would use,
 *   without building an `McpServer` and without validating or serialising the result again. The
 *   hit is charged to the tenant's rate limit, timed in the per-tool histogram, counted in the
 *   cache's hit counters and traced as the SDK path's `tools/call` span is;
 * - a miss is computed by the same tool chain the SDK path calls (see computeMiss), under the key
 *   it missed, and answered in the same framing; a failure is answered by the SDK path.
 *
 * Everything else returns false and goes through the SDK as before: a call the cache cannot key
 * (`get_job` of a running job, the cache's Redis away), other methods, batches, progress tokens,
 * unknown `_meta` or params, headers the SDK checks (`Mcp-Param-*`), other protocol revisions, a
 * legacy request without a session, arguments the tool's schema refuses, a caller without the
 * tool's scope (the SDK answers 403 with its challenge), and a hit the rate limit refuses (the SDK
 * path charges again and answers the refusal).
 */
export function createFastPath(deps: FastPathDeps): FastPath {
  const modernMeta = `,"resultType":"complete","_meta":${JSON.stringify({
    'io.modelcontextprotocol/serverInfo': deps.serverInfo,
  })}}`;

  return async (req, res, body, caller) => {
    const fast = fastCall(req.headers, body);
    if (fast === undefined || !caller.scopes.includes(toolScopes[fast.tool])) return false;
    const input = toolContracts[fast.tool].input.safeParse(fast.args);
    if (!input.success) return false;

    const started = performance.now();
    // The SDK path's span, named and labelled alike (server-factory.ts); a miss renames it.
    const span = deps.tracer.startSpan(`tools/call ${fast.tool}`, {
      attributes: {
        'mcp.method.name': 'tools/call',
        'gen_ai.tool.name': fast.tool,
        'gen_ai.operation.name': 'execute_tool',
        'jsonrpc.request.id': String(fast.id),
        'hopper.mcp.era': fast.era,
      },
    });
    let found: CachedAnswer | CacheMiss | undefined;
    try {
      found = await deps.lookup(fast.tool, input.data, caller);
      if (found !== undefined && isHit(found) && deps.charge) {
        await deps.charge(caller.tenant, { uncounted: true });
      }
    } catch {
      // Refused by the rate limit (a refusal takes no token): the SDK path charges again, counts
      // the refusal once and answers it as it does.
      found = undefined;
    }
    if (found !== undefined && !isHit(found)) {
      return computeMiss({ req, res, fast, input: input.data, caller, span }, found);
    }
    if (found === undefined) {
      span.updateName('mcp.fast_path lookup');
      span.setAttribute('hopper.cache.layer', 'miss');
      span.end();
      return false;
    }
    const hit = found;
    const result =
      hit.layer === 'l1'
        ? deps.cache.rendered(hit.key, hit.value, () => resultFields(hit.output))
        : resultFields(hit.output);
    send(res, fast, result);
    // In the span's context, so a slow-call warning carries its trace id as the SDK path's does.
    context.with(trace.setSpan(context.active(), span), () => deps.record(fast.tool, {}, started, 'ok'));
    span.setAttribute('hopper.cache.layer', hit.layer);
    span.end();
    return true;
  };

  /** The answer's bytes between the era's framing, in one write of three pieces. */
  function send(res: ServerResponse, fast: FastCall, result: Buffer): void {
    const id = JSON.stringify(fast.id);
    const [head, tail, headers] =
      fast.era === 'modern'
        ? [MODERN_HEAD, `${modernMeta},"jsonrpc":"2.0","id":${id}}`, JSON_HEADERS]
        : [LEGACY_HEAD, `},"jsonrpc":"2.0","id":${id}}\n\n`, SSE_HEADERS];
    res.writeHead(200, {
      ...headers,
      'content-length': head.length + result.length + Buffer.byteLength(tail),
    });
    // The result's bytes as they are kept (never encoded again).
    res.cork();
    res.write(head);
    res.write(result);
    res.end(tail);
  }

  /**
   * A miss, computed here by the tool chain the SDK path calls (which times the call, charges the
   * rate limit, and computes the answer under the key just missed, single-flight, storing it), and
   * answered as a hit is. A failure is answered by the SDK path, from the error this call ended
   * with (see {@link fastPathFailure}): its framing of tool errors stays the only one, and the
   * call is not run twice.
   */
  async function computeMiss(
    at: {
      req: IncomingMessage;
      res: ServerResponse;
      fast: FastCall;
      input: object;
      caller: Caller;
      span: Span;
    },
    miss: CacheMiss,
  ): Promise<boolean> {
    const { req, res, fast, span } = at;
    span.setAttribute('hopper.cache.layer', 'miss');
    // As the SDK's request signal: the caller went away before its answer.
    const gone = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) gone.abort();
    };
    res.once('close', onClose);
    const call: CallContext = {
      tenant: at.caller.tenant,
      signal: gone.signal,
      requestId: String(fast.id),
      cacheMiss: { tool: fast.tool, key: miss.key },
    };
    const handler = deps.handlers[fast.tool] as (input: object, call: CallContext) => Promise<object>;
    let output: object;
    try {
      output = await context.with(trace.setSpan(context.active(), span), async () =>
        checkedOutput(toolContracts[fast.tool].output, await handler(at.input, call)),
      );
    } catch (error) {
      res.off('close', onClose);
      span.updateName('mcp.fast_path call');
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'tool error' });
      span.end();
      handOnFailure(req, fast.tool, error);
      return false;
    }
    res.off('close', onClose);
    send(res, fast, resultFields(output));
    span.end();
    return true;
  }
}

const isHit = (found: CachedAnswer | CacheMiss): found is CachedAnswer => 'output' in found;

/** Hands a failed miss's error on to the SDK path (see computeMiss), with the request's auth. */
function handOnFailure(req: IncomingMessage, tool: FastCachedTool, error: unknown): void {
  const auth = (req as IncomingMessage & { auth?: AuthInfo }).auth;
  if (auth?.extra) auth.extra.fastPathFailure = { tool, error };
}

/**
 * The error a call of `tool` ended with on the fast path, handed on for the SDK path to answer
 * (see computeMiss): the server factory answers it as it answers any tool's failure.
 */
export function fastPathFailure(auth: AuthInfo | undefined, tool: string): { error: unknown } | undefined {
  const handed = auth?.extra?.fastPathFailure;
  if (typeof handed !== 'object' || handed === null) return undefined;
  const { tool: failedTool, error } = handed as { tool?: unknown; error?: unknown };
  return failedTool === tool ? { error } : undefined;
}

/** The tool result's JSON without its braces (UTF-8), so the era can add its own fields. */
function resultFields(output: object): Buffer {
  const json = JSON.stringify(toolSuccess(output));
  return Buffer.from(json.slice(1, -1));
}

/** The call, when the request is one the fast path fully understands. */
function fastCall(headers: IncomingHttpHeaders, body: unknown): FastCall | undefined {
  if (!isPlainObject(body) || !hasOnlyKeys(body, ['jsonrpc', 'id', 'method', 'params'])) return undefined;
  if (body.jsonrpc !== '2.0' || body.method !== 'tools/call') return undefined;
  const { id, params } = body;
  if (!(typeof id === 'string' || (typeof id === 'number' && Number.isSafeInteger(id)))) return undefined;
  if (!isPlainObject(params) || !hasOnlyKeys(params, ['name', 'arguments', '_meta'])) return undefined;
  const { name, arguments: args, _meta: meta } = params;
  if (typeof name !== 'string' || !FAST_TOOLS.has(name) || !isPlainObject(args)) return undefined;
  if (!isJsonContentType(headers['content-type'])) return undefined;
  for (const header of Object.keys(headers)) if (header.startsWith('mcp-param-')) return undefined;
  const accept = headers.accept ?? '';
  const version = headers['mcp-protocol-version'];

  if (meta !== undefined) {
    if (!isModernEnvelope(meta) || version !== MODERN_VERSION) return undefined;
    if (headers['mcp-method'] !== 'tools/call' || headers['mcp-name'] !== name) return undefined;
    if (!accept.includes('application/json')) return undefined;
    return { era: 'modern', tool: name as FastCachedTool, args, id };
  }
  // A legacy call: the SDK refuses it (406) unless it accepts both; a session is what Hopper's
  // legacy clients were given at `initialize`, and a request without one is left to the SDK.
  if (version !== LEGACY_VERSION || !isSessionId(headers['mcp-session-id'])) return undefined;
  if (!accept.includes('application/json') || !accept.includes('text/event-stream')) return undefined;
  if (headers['mcp-method'] !== undefined || headers['mcp-name'] !== undefined) return undefined;
  return { era: 'legacy', tool: name as FastCachedTool, args, id };
}

/** The three envelope fields of a modern request, well formed, and nothing else (no progress token). */
function isModernEnvelope(meta: unknown): boolean {
  if (!isPlainObject(meta) || !hasOnlyKeys(meta, Object.values(ENVELOPE))) return false;
  if (meta[ENVELOPE.version] !== MODERN_VERSION) return false;
  const info = meta[ENVELOPE.clientInfo];
  const capabilities = meta[ENVELOPE.capabilities];
  return (
    isPlainObject(info) &&
    hasOnlyKeys(info, ['name', 'version', 'title']) &&
    typeof info.name === 'string' &&
    typeof info.version === 'string' &&
    (info.title === undefined || typeof info.title === 'string') &&
    isPlainObject(capabilities) &&
    Object.values(capabilities).every(isPlainObject)
  );
}

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A session id as `LegacySessions.newSessionId` makes them (a UUID). */
function isSessionId(value: string | string[] | undefined): boolean {
  return typeof value === 'string' && SESSION_ID.test(value);
}

function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  return value.split(';', 1)[0]!.trim().toLowerCase() === 'application/json';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasOnlyKeys(value: Record<string, unknown>, allowed: readonly string[]): boolean {
  for (const key in value) if (!allowed.includes(key)) return false;
  return true;
}
