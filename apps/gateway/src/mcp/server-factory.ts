import {
  McpServer,
  ResourceNotFoundError,
  ResourceTemplate,
  type McpRequestContext,
  type McpServerFactory,
  type ScopeChallengeHandler,
  type ServerContext,
  type StandardSchemaWithJSON,
} from '@modelcontextprotocol/server';
import {
  DEFAULT_COLLECTION,
  isHopperError,
  toolContracts,
  toolNames,
  toolScopes,
  type ProgressEvent,
  type Scope,
  type ToolName,
} from '@hopper/contracts';
import type { Logger } from '@hopper/lifecycle';
import { inSpan } from '@hopper/telemetry';
import { SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { CallContext, ToolHandlers } from '@hopper/contracts';
import { checkedOutput, toolFailure, toolSuccess } from './tool-result.ts';
import { fastPathFailure } from './fast-path.ts';
import { advertisedOnly } from './tool-schemas.ts';
import { TASKS_EXTENSION } from './task-path.ts';
import { documentReadHint, jobReadHint, staticCacheHints } from './cache-hints.ts';
import { DOCUMENT_URI_TEMPLATE } from './document-uri.ts';

const INSTRUCTIONS =
  'Hopper ingests documents (ingest_document) and searches them (search). Long work runs as jobs: ' +
  'follow them with get_job or list_jobs, stop them with cancel_job.';

export interface ServerFactoryOptions {
  handlers: ToolHandlers;
  logger: Logger;
  /** The tenant when a request carries none (local mode has exactly one). */
  tenant: string;
  version: string;
  tracer: Tracer;
  /** How long Hopper's cache keeps a finished job (`HOPPER_CACHE_TTL_JOBS_S`), for its caching hint. */
  finishedJobTtlMs: number;
}

/**
 * The MCP SDK builds one server per request (stateless serving). Everything expensive is built
 * once, outside: this factory only registers the prebuilt handlers from the contract table.
 */
export function createServerFactory(options: ServerFactoryOptions): McpServerFactory {
  const { handlers, logger } = options;
  const toolChallenges = new Map(
    toolNames.map((name) => [
      name,
      requireScope(toolScopes[name], `${name} needs the ${toolScopes[name]} scope`),
    ]),
  );
  const readChallenge = requireScope('read', 'reading a resource needs the read scope');
  // Built once, with their JSON Schema converted once (see tool-schemas.ts).
  const inputSchemas = Object.fromEntries(
    toolNames.map((name) => [name, advertisedOnly(toolContracts[name].input)]),
  ) as Record<ToolName, StandardSchemaWithJSON>;
  const outputSchemas = Object.fromEntries(
    toolNames.map((name) => [name, advertisedOnly(toolContracts[name].output)]),
  ) as Record<ToolName, StandardSchemaWithJSON>;

  return (request: McpRequestContext) => {
    // The HTTP layer authenticated the request and put its tenant here (see http-server.ts).
    const requestTenant = request.authInfo?.extra?.tenant;
    const tenant = typeof requestTenant === 'string' ? requestTenant : options.tenant;
    const server = new McpServer(
      { name: 'hopper', version: options.version },
      {
        // Tasks and subscriptions/listen are answered in front of the SDK (task-path.ts,
        // listen-path.ts); server/discover names them here. Legacy clients have no
        // resources/subscribe: their job progress comes with the call or from get_job.
        capabilities: {
          tools: {},
          resources: request.era === 'modern' ? { subscribe: true } : {},
          extensions: { [TASKS_EXTENSION]: {} },
        },
        instructions: INSTRUCTIONS,
        // SEP-2549 hints, written by the SDK on 2026-07-28 answers only (see cache-hints.ts).
        cacheHints: staticCacheHints,
      },
    );
    // A resource read's own hints, on 2026-07-28 answers only (a 2025-11-25 result has no such fields).
    const modern = request.era === 'modern';
    const tools = reachableTools(request);
    for (const name of tools) {
      const contract = toolContracts[name];
      server.registerTool(
        name,
        {
          title: contract.title,
          description: contract.description,
          inputSchema: inputSchemas[name],
          outputSchema: outputSchemas[name],
          annotations: contract.annotations,
          scopeChallenge: toolChallenges.get(name),
        },
        async (args: unknown, ctx: ServerContext) =>
          // One span per MCP request, named and labelled after the OpenTelemetry MCP conventions.
          inSpan(
            options.tracer,
            `tools/call ${name}`,
            requestAttributes(name, request, ctx),
            async (span) => {
              const call = callContext(tenant, request, ctx);
              // A call the fast path already ran and that failed: answered here, not run again.
              const failed = fastPathFailure(request.authInfo, name);
              try {
                if (failed) throw failed.error;
                const input = contract.input.parse(args);
                const handler = handlers[name] as (input: unknown, call: CallContext) => Promise<object>;
                const output = checkedOutput(contract.output, await handler(input, call.context));
                await call.flush();
                return toolSuccess(output);
              } catch (error) {
                await call.flush();
                span.setStatus({ code: SpanStatusCode.ERROR, message: 'tool error' });
                span.setAttribute('error.type', 'tool_error');
                return toolFailure(error, logger, name satisfies ToolName);
              }
            },
          ),
      );
    }
    // A server built for one tool call serves nothing else (see reachableTools).
    if (tools !== toolNames) return server;

    server.registerResource(
      'document',
      // Reserved expansion (RFC 6570 `{+var}`): document ids are often paths (`guides/setup.md`), and
      // a path reads best with its `/` as it is. The variable then matches the rest of the URI, `/`
      // included, and is percent-decoded, so `guides/setup.md` and `guides%2Fsetup.md` are one id.
      new ResourceTemplate(DOCUMENT_URI_TEMPLATE, { list: undefined }),
      {
        title: 'Document',
        description:
          'A document in the default collection; the id may hold `/` as it is, and any other character percent-encoded (UTF-8)',
        mimeType: 'application/json',
        scopeChallenge: readChallenge,
      },
      async (uri, variables) => {
        const documentId = decodedVariable(uri.href, variables.documentId);
        const view = await readOrNotFound(uri.href, () =>
          handlers.get_document({ documentId, collection: DEFAULT_COLLECTION }, staticCall(tenant)),
        );
        const contents = [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(view) }];
        return modern ? { contents, ...documentReadHint } : { contents };
      },
    );
    server.registerResource(
      'job',
      // Job ids are `[a-z0-9_]`, so simple expansion suffices; its value is percent-decoded all the same.
      new ResourceTemplate('hopper://jobs/{jobId}', { list: undefined }),
      {
        title: 'Job',
        description: 'State and progress of a job',
        mimeType: 'application/json',
        scopeChallenge: readChallenge,
      },
      async (uri, variables) => {
        const jobId = decodedVariable(uri.href, variables.jobId);
        const view = await readOrNotFound(uri.href, () => handlers.get_job({ jobId }, staticCall(tenant)));
        const contents = [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(view) }];
        return modern ? { contents, ...jobReadHint(view, options.finishedJobTtlMs) } : { contents };
      },
    );
    return server;
  };
}

/**
 * The tools a request can reach. The SDK builds a server per request, and registering all nine
 * tools and two resources cost ~40 µs of CPU (most of it garbage) on every call. The HTTP layer
 * notes which tool a lone `tools/call` names (see http-server.ts); that request can reach no other
 * tool and no resource, so its server registers only that tool. An unknown name gets everything,
 * so the SDK answers it as it answers any unknown tool.
 */
function reachableTools(request: McpRequestContext): readonly ToolName[] {
  const called = request.authInfo?.extra?.calledTool;
  return typeof called === 'string' && Object.hasOwn(toolContracts, called)
    ? [called as ToolName]
    : toolNames;
}

/**
 * A call the caller's scopes do not cover is refused before it runs, at the HTTP level, as the MCP
 * authorization spec asks: 403 with `WWW-Authenticate: Bearer error="insufficient_scope",
 * scope="…"`, which OAuth clients answer by asking for the scope (step-up authorization). The SDK
 * writes that response on both protocol eras. A request without auth info never reaches here (the
 * HTTP layer refuses it first); it is refused all the same.
 */
function requireScope(scope: Scope, description: string): ScopeChallengeHandler {
  return ({ authInfo }) =>
    authInfo?.scopes.includes(scope) ? undefined : { scopes: [scope], errorDescription: description };
}

function requestAttributes(tool: string, request: McpRequestContext, ctx: ServerContext) {
  const sessionId = ctx.http?.req?.headers.get('mcp-session-id');
  return {
    'mcp.method.name': 'tools/call',
    'gen_ai.tool.name': tool,
    'gen_ai.operation.name': 'execute_tool',
    'jsonrpc.request.id': String(ctx.mcpReq.id),
    'hopper.mcp.era': request.era,
    ...(sessionId ? { 'mcp.session.id': sessionId } : {}),
  };
}

/**
 * A template variable as the SDK matched it, percent-decoded. The SDK hands over the raw text of the
 * URI; RFC 6570 expansion percent-encodes (UTF-8) what a URI cannot hold as it is, so reading a value
 * back means decoding it (`notes%20on%20caf%C3%A9` is `notes on café`). A malformed escape names
 * no resource.
 */
function decodedVariable(uri: string, value: string | string[] | undefined): string {
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ResourceNotFoundError(uri);
  }
}

async function readOrNotFound<T>(uri: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (isHopperError(error) && error.code === 'not_found') throw new ResourceNotFoundError(uri);
    throw error;
  }
}

function staticCall(tenant: string): CallContext {
  return { tenant, signal: new AbortController().signal };
}

/**
 * Builds the protocol-neutral call context from the SDK's request context: the abort signal (a
 * modern client closing its stream), progress as MCP `notifications/progress` when the client sent a
 * progress token, and the legacy request identity for routing `notifications/cancelled`.
 */
function callContext(
  tenant: string,
  request: McpRequestContext,
  ctx: ServerContext,
): { context: CallContext; flush: () => Promise<void> } {
  const context: CallContext = { tenant, signal: ctx.mcpReq.signal, requestId: String(ctx.mcpReq.id) };
  let sending: Promise<unknown> = Promise.resolve();

  const progressToken = ctx.mcpReq._meta?.progressToken;
  if (progressToken !== undefined) {
    let last = -1;
    context.progress = (event: ProgressEvent) => {
      // MCP requires progress to increase with every notification; a retry's restart is not shown.
      const value = event.state === 'completed' ? 1 : event.progress;
      if (value <= last) return;
      last = value;
      // Every notification names the job: a client whose stream is cut before the answer (the
      // gateway stopped, the network dropped) still has the id to follow the job with get_job.
      const message = `job ${event.jobId}: ${event.stage ?? event.state}${event.message ? `: ${event.message}` : ''}`;
      sending = sending
        .then(() =>
          ctx.mcpReq.notify({
            method: 'notifications/progress',
            params: { progressToken, progress: value, total: 1, message },
          }),
        )
        .catch(() => undefined);
    };
  }

  if (request.era === 'legacy') {
    const sessionId =
      ctx.http?.req?.headers.get('mcp-session-id') ?? request.requestInfo?.headers.get('mcp-session-id');
    if (sessionId) context.legacyRequest = { sessionId, requestId: String(ctx.mcpReq.id) };
  }
  // Notifications go out before the result, in order.
  return { context, flush: () => sending.then(() => undefined) };
}
