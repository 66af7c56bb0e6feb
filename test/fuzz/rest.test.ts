import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { limits, toolContracts, type ToolName } from '@hopper/contracts';
import { junk, nastyString, objectKey, toolArgs } from './support/arbitraries.ts';
import { fuzz, startFuzzStack, type FuzzStack } from './support/fuzz-stack.ts';
import { isRecord } from './support/raw-mcp.ts';

/*
 * The REST API under /v1, driven from its own OpenAPI document: every operation with generated path
 * parameters, query strings and bodies. Whatever arrives, the answer is JSON: a 2xx with the tool's
 * output, or a 4xx `{error: {code, message}}`; never a 5xx.
 */

const RUNS = 150;

interface Operation {
  method: string;
  /** OpenAPI template, e.g. `/v1/jobs/{jobId}`. */
  path: string;
  tool: ToolName;
  pathParams: string[];
  queryParams: string[];
  body: boolean;
}

interface OpenApiOperation {
  operationId: ToolName;
  parameters?: { name: string; in: string }[];
  requestBody?: unknown;
}

let fx: FuzzStack;
let base: string;
let operations: Operation[];

beforeAll(async () => {
  fx = await startFuzzStack(inject('redisUrl'));
  base = fx.stack.url.replace(/\/mcp$/, '');
  const doc = (await (await fetch(`${base}/v1/openapi.json`)).json()) as {
    paths: Record<string, Record<string, OpenApiOperation>>;
  };
  operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      tool: op.operationId,
      pathParams: (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
      queryParams: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
      body: op.requestBody !== undefined,
    })),
  );
});

afterAll(async () => {
  await fx?.stack.stop();
});

interface RestReply {
  status: number;
  body: unknown;
}

async function send(
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<RestReply> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await response.text();
  expect(response.headers.get('content-type'), `${method} ${path}: ${text.slice(0, 200)}`).toMatch(
    /^application\/json/,
  );
  return { status: response.status, body: JSON.parse(text) as unknown };
}

/** Checks the reply is typed and names it for the tally (`200`, `400 invalid_argument`, ...). */
function expectTyped(reply: RestReply, context: string): string {
  expect(reply.status, context).toBeLessThan(500);
  if (reply.status < 300) {
    expect(isRecord(reply.body), context).toBe(true);
    return String(reply.status);
  }
  const error = isRecord(reply.body) && isRecord(reply.body.error) ? reply.body.error : undefined;
  expect(typeof error?.code, `${context}: ${JSON.stringify(reply.body).slice(0, 300)}`).toBe('string');
  expect(typeof error?.message, context).toBe('string');
  return `${reply.status} ${String(error?.code)}`;
}

/** A path parameter: a real id, or anything, percent-encoded or (sometimes) raw. */
function pathParam(): fc.Arbitrary<string> {
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc.constantFrom('fog-signals', 'night-shift', 'missing-doc').map(encode),
    },
    { weight: 3, arbitrary: nastyString.map(encode) },
    fc.constantFrom('%', '%E0%A4%A', '%00', '..', '%2F', 'a%2Fb', '%252F', '%C0%AF'),
  );
}

/** A query string value as a client might send one: text, a number, or JSON of anything. */
const queryValue = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.integer({ min: -5, max: 200 }).map(String),
  nastyString,
  junk.map((v) => JSON.stringify(v) ?? ''),
);

/**
 * A query string from the tool's generated arguments (path parameters left out; objects as JSON
 * text, which the API does not read), now and then with an unknown or repeated parameter.
 */
function queryString(op: Operation): fc.Arbitrary<string> {
  const extra = fc.oneof(
    { weight: 4, arbitrary: fc.constant([]) },
    fc.array(fc.tuple(fc.oneof(fc.constantFrom(...op.queryParams, 'limit'), objectKey), queryValue), {
      minLength: 1,
      maxLength: 2,
    }),
  );
  return fc.tuple(toolArgs(op.tool, fx.ids), extra).map(([args, pairs]) => {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(args)) {
      if (op.pathParams.includes(name)) continue;
      search.append(name, typeof value === 'string' ? value : (JSON.stringify(value) ?? ''));
    }
    for (const [name, value] of pairs) search.append(name, value);
    const text = search.toString();
    return text ? `?${text}` : '';
  });
}

/** Percent-encodes any string; a lone surrogate (which encodeURIComponent refuses) becomes U+FFFD. */
function encode(text: string): string {
  return encodeURIComponent(text.toWellFormed());
}

const contentTypes = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  fc.constantFrom('application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', ''),
);

function fill(template: string, values: string[]): string {
  let i = 0;
  return template.replace(/\{\w+\}/g, () => values[i++] ?? '');
}

describe('REST API, generated from its OpenAPI document', () => {
  it('answers every operation with typed JSON; invalid bodies are invalid_argument', async () => {
    const requests = fc.nat({ max: operations.length - 1 }).chain((i) => {
      const op = operations[i]!;
      return fc.record({
        op: fc.constant(op),
        params: fc.tuple(...op.pathParams.map(() => pathParam())),
        query: queryString(op),
        body: fc.oneof(
          { weight: 6, arbitrary: toolArgs(op.tool, fx.ids).map((args) => JSON.stringify(args)) },
          junk.map((v) => JSON.stringify(v) ?? 'null'),
          fc.constantFrom('', '{', '{"query":', 'null', '[]', '"text"', '{"a":1}{"b":2}'),
        ),
        contentType: contentTypes,
      });
    });
    await fuzz(
      'rest operations',
      requests,
      async ({ op, params, query, body, contentType }) => {
        const path = fill(op.path, params) + (op.body ? '' : query);
        const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {};
        const reply = await send(op.method, path, op.body ? body : undefined, headers);
        const context = `${op.method} ${path} ${op.body ? body.slice(0, 300) : ''}`;
        const label = expectTyped(reply, context);
        if (reply.status >= 400) {
          expect((reply.body as { error: { code: string } }).error.code, context).not.toBe('internal');
        }
        if (
          op.body &&
          contentType.startsWith('application/json') &&
          Buffer.byteLength(body) <= limits.maxRequestBodyBytes
        ) {
          const parsed = parseObject(body);
          const pathValues = Object.fromEntries(
            op.pathParams.map((name, i) => [name, safeDecode(params[i]!)]),
          );
          if (parsed && !Object.values(pathValues).includes(undefined)) {
            const valid = toolContracts[op.tool].input.safeParse({ ...parsed, ...pathValues }).success;
            if (!valid) expect(label, context).toBe('400 invalid_argument');
          } else if (!parsed) {
            expect(label, context).toBe('400 invalid_argument');
          }
        }
        return `${op.tool} ${label}`;
      },
      RUNS,
    );
    await fx.expectHealthy();
  });

  it('answers unknown paths and wrong methods under /v1 with a typed 404 or 405', async () => {
    const requests = fc.record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
      path: fc.oneof(
        fc.constantFrom(...operations.map((op) => op.path)).map((p) => fill(p, ['x', 'y'])),
        fc.array(nastyString.map(encode), { minLength: 1, maxLength: 4 }).map((s) => `/v1/${s.join('/')}`),
        fc.constantFrom(
          '/v1',
          '/v1/',
          '/v1//search',
          '/v1/search/',
          '/v1/jobs/a/b/c',
          '/v1/%',
          '/v1/openapi.json',
        ),
      ),
    });
    await fuzz(
      'rest paths and methods',
      requests,
      async ({ method, path }) => {
        const reply = await send(method, path, method === 'POST' ? '{}' : undefined, {
          'content-type': 'application/json',
        });
        const label = expectTyped(reply, `${method} ${path}`);
        return label;
      },
      RUNS,
    );
    await fx.expectHealthy();
  });
});

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
