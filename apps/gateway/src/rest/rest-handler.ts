import type { IncomingMessage, ServerResponse } from 'node:http';
import { limits, toolContracts, toolScopes, type ToolName } from '@hopper/contracts';
import type { Logger } from '@hopper/lifecycle';
import { insufficientScopeChallenge, unauthorizedChallenge } from '../auth/challenge.ts';
import { browserGuard, type AllowedHosts } from '../browser-guard.ts';
import { UnauthorizedError, bearerToken, type Caller, type TenantResolver } from '../tenant-resolver.ts';
import type { CallContext, ToolHandlers } from '@hopper/contracts';
import { parseBoundedJson } from '../json-body.ts';
import { httpFailure, toHttpFailure, type HttpFailure } from './http-errors.ts';
import { buildOpenApi, toolJsonSchema } from './openapi.ts';
import { matchRoute, restRoutes, type RestRoute } from './routes.ts';

export interface RestDeps {
  handlers: ToolHandlers;
  resolveTenant: TenantResolver;
  allowedHosts: AllowedHosts;
  logger: Logger;
  version: string;
  /** OAuth is configured: the protected resource metadata URL, named in 401 and 403 challenges. */
  resourceMetadataUrl?: string;
}

export type RestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * The REST mirror of the tools under `/v1`. Each request is turned into the tool's input (path
 * parameters plus the JSON body or the query string), validated by the tool's zod schema, and run
 * by the same protocol-neutral handler MCP calls use. `GET /v1/openapi.json` describes it all.
 */
export function createRestHandler(deps: RestDeps): RestHandler {
  const openApi = JSON.stringify(buildOpenApi(restRoutes, deps.version));
  const numericFields = new Map<ToolName, Set<string>>(
    restRoutes.map((route) => [route.tool, numericProperties(route.tool)]),
  );

  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const refusal = browserGuard(req.headers, deps.allowedHosts);
    if (refusal) return send(res, httpFailure(403, 'forbidden', refusal));
    if (url.pathname === '/v1/openapi.json' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
      res.end(openApi);
      return;
    }

    let found;
    try {
      found = matchRoute(req.method ?? 'GET', url.pathname);
    } catch {
      return send(res, httpFailure(400, 'invalid_argument', 'the path is not valid percent-encoding'));
    }
    if (!found) return send(res, httpFailure(404, 'not_found', `no route for ${url.pathname}`));
    if ('methods' in found) {
      res.setHeader('allow', found.methods.join(', '));
      return send(res, httpFailure(405, 'method_not_allowed', `use ${found.methods.join(' or ')}`));
    }
    const { route, params } = found.match;

    let caller: Caller;
    try {
      const token = bearerToken(req.headers);
      caller = await deps.resolveTenant({
        headers: req.headers,
        remoteAddress: req.socket.remoteAddress,
        ...(token ? { token } : {}),
      });
    } catch (error) {
      if (!(error instanceof UnauthorizedError))
        return send(res, toHttpFailure(error, deps.logger, route.tool));
      res.setHeader('www-authenticate', unauthorizedChallenge(error, deps.resourceMetadataUrl));
      return send(res, httpFailure(401, 'unauthorized', error.message));
    }
    const scope = toolScopes[route.tool];
    if (!caller.scopes.includes(scope)) {
      const message = `${route.tool} needs the ${scope} scope`;
      res.setHeader('www-authenticate', insufficientScopeChallenge(scope, message, deps.resourceMetadataUrl));
      return send(res, httpFailure(403, 'insufficient_scope', message));
    }
    const { tenant } = caller;

    const ndjson = route.tool === 'ingest_documents' && contentType(req) === NDJSON;
    const raw = ndjson
      ? await readNdjsonBatch(req, url)
      : route.input === 'body'
        ? await readJsonBody(req)
        : queryInput(url, numericFields.get(route.tool));
    if ('status' in raw) return send(res, raw);
    const parsed = toolContracts[route.tool].input.safeParse({ ...raw.value, ...params });
    if (!parsed.success) return send(res, toHttpFailure(parsed.error, deps.logger, route.tool));
    // NDJSON lines that were not JSON fail alone, in their place (see readNdjsonBatch).
    if ('badLines' in raw) {
      const documents = (parsed.data as { documents?: unknown[] }).documents ?? [];
      for (const [index, problem] of raw.badLines as Map<number, string>)
        documents[index] = { invalid: problem };
    }

    // A caller that hangs up is gone like an MCP client closing its stream: the handler sees the abort.
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const call: CallContext = { tenant, signal: abort.signal };
    try {
      const handler = deps.handlers[route.tool] as (input: unknown, call: CallContext) => Promise<object>;
      const output = await handler(parsed.data, call);
      sendOutput(res, route, parsed.data, output);
    } catch (error) {
      send(res, toHttpFailure(error, deps.logger, route.tool));
    }
  };
}

/**
 * 200 with the tool's output, except for ingests that answer before their job has ended: 202 with
 * the job's `Location`. `wait: false` is always 202, even when the same ingest had already finished
 * (the body then says `completed`, with its version): whether the answer is 202 depends on what the
 * caller asked for, not on a race with a worker, so a client can handle one status.
 */
function sendOutput(res: ServerResponse, route: RestRoute, input: unknown, output: object): void {
  const headers: Record<string, string> = {};
  let status = 200;
  if (route.tool === 'ingest_document' || route.tool === 'ingest_documents') {
    const job = output as { jobId: string; state: string };
    const noWait = (input as { wait?: boolean }).wait === false;
    if (noWait || job.state === 'queued' || job.state === 'active') {
      status = 202;
      headers.location = `/v1/jobs/${encodeURIComponent(job.jobId)}`;
    }
  }
  sendJson(res, status, output, headers);
}

function send(res: ServerResponse, failure: HttpFailure): void {
  sendJson(res, failure.status, failure.body, failure.headers);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** The query string as tool input; integer fields (limit, topK) are converted from text. */
function queryInput(
  url: URL,
  numeric: ReadonlySet<string> | undefined,
): { value: Record<string, unknown> } | HttpFailure {
  const value: Record<string, unknown> = {};
  for (const name of new Set(url.searchParams.keys())) {
    const all = url.searchParams.getAll(name);
    if (all.length > 1)
      return httpFailure(400, 'invalid_argument', `query parameter '${name}' is given more than once`);
    const text = all[0] ?? '';
    value[name] = numeric?.has(name) && /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
  }
  return { value };
}

const NDJSON = 'application/x-ndjson';

function contentType(req: IncomingMessage): string | undefined {
  return (req.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase();
}

/**
 * An NDJSON batch upload can hold a whole batch (`limits.maxBatchBytes` of documents) rather than
 * one request's 4 MiB: JSON escaping and base64 take it past the documents' own size.
 */
const MAX_NDJSON_BYTES = Math.ceil(limits.maxBatchBytes * 1.5);

/**
 * A batch sent as NDJSON: one document per line (the objects `documents` holds in a JSON call);
 * the call's other arguments come from the query string (`chunking.maxChars=...`). Each line gets
 * the bounds a JSON body gets. A line that is not JSON fails alone: it takes its place in the batch
 * as a placeholder, replaced after validation by its reason (`badLines`).
 */
async function readNdjsonBatch(
  req: IncomingMessage,
  url: URL,
): Promise<{ value: Record<string, unknown>; badLines: Map<number, string> } | HttpFailure> {
  const body = await readBody(req, MAX_NDJSON_BYTES, () =>
    httpFailure(413, 'invalid_argument', `an NDJSON batch may hold ${MAX_NDJSON_BYTES} bytes; split it`),
  );
  if (!Buffer.isBuffer(body)) return body;
  const lines = body
    .toString('utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
  if (lines.length > limits.maxBatchDocuments) {
    return httpFailure(
      413,
      'invalid_argument',
      `the batch holds ${lines.length} documents; one batch takes at most ${limits.maxBatchDocuments}`,
    );
  }
  const documents: unknown[] = [];
  const badLines = new Map<number, string>();
  lines.forEach((line, index) => {
    const parsed = parseBoundedJson(Buffer.from(line), 'input');
    if ('problem' in parsed) {
      badLines.set(
        index,
        `line ${index + 1}: ${parsed.problem.message.replace('the request body', 'the line')}`,
      );
      documents.push({});
    } else documents.push(parsed.value);
  });
  const options: Record<string, unknown> = {};
  const chunking: Record<string, number> = {};
  for (const [name, text] of url.searchParams) {
    if (name === 'collection') options.collection = text;
    else if (name === 'wait') options.wait = text === 'true' ? true : text === 'false' ? false : text;
    else if (name === 'chunking.maxChars' || name === 'chunking.overlapChars') {
      chunking[name.slice('chunking.'.length)] = Number(text);
    } else
      return httpFailure(400, 'invalid_argument', `unknown query parameter '${name}' for an NDJSON batch`);
  }
  if (Object.keys(chunking).length > 0) options.chunking = chunking;
  return { value: { ...options, documents }, badLines };
}

/**
 * The request's body, or `tooLarge()` as soon as it is known to pass `max` bytes: from its
 * declared length before anything is read, else once the bytes read pass it.
 */
async function readBody(
  req: IncomingMessage,
  max: number,
  tooLarge: () => HttpFailure,
): Promise<Buffer | HttpFailure> {
  if (Number(req.headers['content-length'] ?? 0) > max) {
    req.resume();
    return tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > max) return tooLarge();
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/** Reads a JSON object body within the request size limit. */
async function readJsonBody(req: IncomingMessage): Promise<{ value: Record<string, unknown> } | HttpFailure> {
  const type = contentType(req);
  // Only JSON: a cross-site form or text/plain post (sent by browsers without a preflight) is refused.
  if (type !== 'application/json') {
    req.resume();
    return httpFailure(415, 'unsupported', 'send the body as JSON with content-type: application/json');
  }
  const max = limits.maxRequestBodyBytes;
  const bytes = await readBody(req, max, () =>
    httpFailure(413, 'invalid_argument', `request body exceeds ${max} bytes`),
  );
  if (!Buffer.isBuffer(bytes)) return bytes;
  // The same bounds as MCP bodies (encoding, nesting, key counts), before the tool's schema runs.
  const parsed = parseBoundedJson(bytes, 'input');
  if ('problem' in parsed) return httpFailure(400, 'invalid_argument', parsed.problem.message);
  const body = parsed.value;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return httpFailure(400, 'invalid_argument', 'the request body must be a JSON object');
  }
  return { value: body as Record<string, unknown> };
}

function numericProperties(tool: ToolName): Set<string> {
  const schema = toolJsonSchema(tool, 'input');
  return new Set(
    Object.entries(schema.properties ?? {})
      .filter(([, property]) => property.type === 'integer' || property.type === 'number')
      .map(([name]) => name),
  );
}
