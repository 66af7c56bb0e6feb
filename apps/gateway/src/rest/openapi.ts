import * as z from 'zod';
import { toolContracts, toolScopes, type ToolName } from '@hopper/contracts';
import type { RestRoute } from './routes.ts';

type JsonSchema = Record<string, unknown> & {
  properties?: Record<string, JsonSchema>;
  required?: string[];
  type?: string | string[];
};

/** A tool's input (`io: 'input'`: defaults make fields optional) or output as JSON Schema 2020-12. */
export function toolJsonSchema(tool: ToolName, side: 'input' | 'output'): JsonSchema {
  const contract = toolContracts[tool];
  const schema = z.toJSONSchema(side === 'input' ? contract.input : contract.output, {
    io: side,
    // Refinements (e.g. "exactly one of content or contentBase64") cannot be expressed; the server
    // still checks them, and the descriptions say so.
    unrepresentable: 'any',
  }) as JsonSchema;
  // OpenAPI 3.1 schema objects are JSON Schema 2020-12 already; the dialect is declared once.
  delete schema.$schema;
  return schema;
}

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: {
          type: 'string',
          description:
            'invalid_argument, not_found, conflict, cancelled, job_failed, busy, timeout, unavailable, unsupported, unauthorized, insufficient_scope, forbidden, method_not_allowed, internal',
        },
        message: { type: 'string', description: 'What went wrong, for a person' },
        issues: {
          type: 'array',
          description: 'For invalid_argument: each problem and where it is',
          items: { type: 'object' },
        },
      },
    },
  },
} as const;

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const busyResponse = (description: string) => ({
  ...errorResponse(description),
  headers: {
    'Retry-After': {
      schema: { type: 'integer' },
      description: 'Seconds to wait before retrying (when busy)',
    },
  },
});

/**
 * The OpenAPI 3.1 document of the REST API, generated from the route table and the tools' zod
 * schemas: the same schemas validate MCP calls and REST requests, so the three cannot drift.
 */
export function buildOpenApi(routes: readonly RestRoute[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const shared: Record<string, unknown> = {};
  const schemaOf = (tool: ToolName, side: 'input' | 'output') =>
    hoistDefinitions(toolJsonSchema(tool, side), `${tool}_${side}`, shared);
  for (const route of routes) {
    const contract = toolContracts[route.tool];
    const input = schemaOf(route.tool, 'input');
    const pathNames = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? '');
    const properties = input.properties ?? {};
    const required = new Set(input.required ?? []);

    const parameters: Record<string, unknown>[] = pathNames.map((name) => ({
      name,
      in: 'path',
      required: true,
      schema: properties[name] ?? { type: 'string' },
    }));
    let requestBody: Record<string, unknown> | undefined;
    if (route.input === 'query') {
      for (const [name, schema] of Object.entries(properties)) {
        if (pathNames.includes(name)) continue;
        parameters.push({ name, in: 'query', required: required.has(name), schema });
      }
    } else {
      const body: JsonSchema = { ...input, properties: { ...properties } };
      for (const name of pathNames) delete body.properties?.[name];
      body.required = (input.required ?? []).filter((name) => !pathNames.includes(name));
      requestBody = { required: true, content: { 'application/json': { schema: body } } };
    }

    const success: Record<string, unknown> = {
      '200': {
        description: 'The tool output',
        content: { 'application/json': { schema: schemaOf(route.tool, 'output') } },
      },
    };
    if (route.tool === 'ingest_document') {
      success['202'] = {
        description:
          'Accepted: the job is queued or running (or, with `wait: false`, already finished: the body says so); follow it at /v1/jobs/{jobId} or over Socket.IO',
        headers: { Location: { schema: { type: 'string' }, description: 'The job resource' } },
        content: { 'application/json': { schema: schemaOf(route.tool, 'output') } },
      };
    }

    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = {
      operationId: route.tool,
      summary: route.summary,
      description: contract.description,
      tags: [route.path.split('/')[2] ?? 'v1'],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(requestBody ? { requestBody } : {}),
      // OpenAPI 3.1 lets a non-OAuth scheme list the roles an operation needs: here, its scope.
      security: [{ bearer: [toolScopes[route.tool]] }],
      responses: {
        ...success,
        '400': errorResponse('Invalid arguments (refused before any work)'),
        '401': errorResponse('No valid API key or access token (see WWW-Authenticate)'),
        '403': errorResponse(`The credential lacks the ${toolScopes[route.tool]} scope (insufficient_scope)`),
        '404': errorResponse('Unknown job or document'),
        '413': errorResponse('Request body too large'),
        '415': errorResponse('The body is not JSON'),
        '422': errorResponse('The job failed, or the document could not be processed'),
        '429': busyResponse(
          "busy: a limit was reached (the tenant's rate or job slots, or a full queue); retry after Retry-After seconds",
        ),
        '503': busyResponse(
          'The gateway is overloaded (code busy), or a dependency (Redis, store, embeddings) is unavailable; retry',
        ),
        default: errorResponse('Other errors'),
      },
    };
  }

  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Hopper REST API',
      version,
      description:
        'The MCP tools of Hopper as REST operations, validated by the same schemas. Job progress streams over Socket.IO at /socket.io (see the README).',
      // The repository grants no license (package.json is private, no LICENSE file): say so rather
      // than leave the field out. Put the SPDX identifier here once the owners choose a license.
      license: { name: 'Proprietary: no license granted', identifier: 'LicenseRef-Proprietary' },
    },
    // Relative to where this document is served: the gateway that answered, whatever its host and
    // port (HOPPER_PORT=0, a proxy in front), so clients generated from it call the same origin.
    servers: [{ url: '/', description: 'The gateway that served this document' }],
    paths,
    components: {
      schemas: { Error: errorSchema, ...shared },
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            'An API key (HOPPER_API_KEYS) or an OAuth JWT access token; scopes: read (searches and reads) and write (ingest, delete, cancel)',
        },
      },
    },
  };
}

/**
 * Moves a schema's `$defs` (zod writes recursive types, such as a job result's JSON values, as
 * `#/$defs/...` references) into the document's components, and points its references there: in an
 * OpenAPI document `#/` is the document's root, so a `$defs` left inside an operation's schema would
 * be unresolvable (Redocly's no-unresolved-refs).
 */
function hoistDefinitions(
  schema: JsonSchema,
  prefix: string,
  components: Record<string, unknown>,
): JsonSchema {
  const defs = schema.$defs as Record<string, unknown> | undefined;
  if (!defs) return schema;
  const { $defs: _defs, ...rest } = schema;
  const names = new Map(Object.keys(defs).map((name) => [name, `${prefix}_${name.replace(/^_+/, '')}`]));
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value).map(([key, child]) => {
        if (key === '$ref' && typeof child === 'string' && child.startsWith('#/$defs/')) {
          const name = names.get(child.slice('#/$defs/'.length));
          return [key, name ? `#/components/schemas/${name}` : child];
        }
        return [key, rewrite(child)];
      }),
    );
  };
  for (const [name, definition] of Object.entries(defs)) components[names.get(name)!] = rewrite(definition);
  return rewrite(rest) as JsonSchema;
}
