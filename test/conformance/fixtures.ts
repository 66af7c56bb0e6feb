import {
  LOG_LEVEL_META_KEY,
  type McpServer,
  ResourceTemplate,
  completable,
  inputRequired,
  type McpRequestContext,
  type ServerContext,
  type StandardSchemaWithJSON,
} from '@modelcontextprotocol/server';
import * as z from 'zod';
import { registerInputRequiredFixtures } from './input-required-fixtures.ts';

/**
 * The fixtures the MCP conformance suite (0.2.0-alpha.12, `--requirements 2026-07-28`) calls by
 * name: tools, resources and prompts whose contracts are written in each scenario's description
 * and checked by its `run()` (node_modules/conformance-2026/dist/index.js). They are registered on
 * the per-request McpServer the fixture server builds (fixture-server.ts), which serves them through
 * Hopper's own HTTP layer.
 */

/** A 1x1 red PNG. */
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
/** A WAV header with two bytes of silence. */
const WAV = 'UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=';

const text = (value: string) => ({ type: 'text' as const, text: value });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The tool whose input schema uses JSON Schema 2020-12 keywords (`$schema`, `$defs` with an
 * `$anchor`, `allOf`/`anyOf`, `if`/`then`/`else`, `additionalProperties: false`), which
 * `tools/list` must show as written (scenario json-schema-2020-12).
 */
const JSON_SCHEMA_2020_12 = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  $defs: {
    address: {
      $anchor: 'addressDef',
      type: 'object',
      properties: { street: { type: 'string' }, city: { type: 'string' } },
    },
  },
  properties: {
    name: { type: 'string' },
    address: { $ref: '#/$defs/address' },
    contactMethod: { type: 'string', enum: ['phone', 'email'] },
    phone: { type: 'string' },
    email: { type: 'string' },
  },
  allOf: [{ anyOf: [{ required: ['phone'] }, { required: ['email'] }] }],
  if: { properties: { contactMethod: { const: 'phone' } }, required: ['contactMethod'] },
  then: { required: ['phone'] },
  else: { required: ['email'] },
  additionalProperties: false,
} as const;

/**
 * A tool with a parameter mirrored in an HTTP header (SEP-2243): a client sends `region` both in
 * the arguments and as `Mcp-Param-Region`, and the SDK refuses a call whose header is missing,
 * badly encoded or different from the argument (scenario http-custom-header-server-validation).
 */
const HEADER_PARAMETER_SCHEMA = {
  type: 'object',
  properties: { region: { type: 'string', description: 'Where to run', 'x-mcp-header': 'Region' } },
  required: ['region'],
};

/** A schema advertised exactly as written (no conversion), accepting any object. */
function rawJsonSchema(json: Record<string, unknown>): StandardSchemaWithJSON {
  return {
    '~standard': {
      version: 1,
      vendor: 'hopper-conformance-fixtures',
      validate: (value: unknown) => ({ value }),
      jsonSchema: { input: () => json, output: () => json },
    },
  };
}

/** Registers every fixture on a per-request server. */
export function registerFixtures(server: McpServer, request: McpRequestContext): void {
  registerContentTools(server);
  registerProtocolTools(server, request);
  registerResources(server);
  registerPrompts(server);
  if (request.era === 'modern') registerInputRequiredFixtures(server);
}

function registerContentTools(server: McpServer): void {
  server.registerTool('test_simple_text', { description: 'Returns simple text' }, () => ({
    content: [text('This is a simple text response for testing.')],
  }));
  server.registerTool('test_image_content', { description: 'Returns an image' }, () => ({
    content: [{ type: 'image', data: PNG, mimeType: 'image/png' }],
  }));
  server.registerTool('test_audio_content', { description: 'Returns audio' }, () => ({
    content: [{ type: 'audio', data: WAV, mimeType: 'audio/wav' }],
  }));
  server.registerTool('test_embedded_resource', { description: 'Returns an embedded resource' }, () => ({
    content: [
      {
        type: 'resource',
        resource: {
          uri: 'test://embedded-resource',
          mimeType: 'text/plain',
          text: 'This is an embedded resource content.',
        },
      },
    ],
  }));
  server.registerTool(
    'test_multiple_content_types',
    { description: 'Returns text, an image and a resource' },
    () => ({
      content: [
        text('Multiple content types test:'),
        { type: 'image', data: PNG, mimeType: 'image/png' },
        {
          type: 'resource',
          resource: {
            uri: 'test://mixed-content-resource',
            mimeType: 'application/json',
            text: JSON.stringify({ test: 'data', value: 123 }),
          },
        },
      ],
    }),
  );
  server.registerTool('test_error_handling', { description: 'Always fails' }, () => ({
    isError: true,
    content: [text('This tool intentionally returns an error for testing')],
  }));
  server.registerTool(
    'json_schema_2020_12_tool',
    {
      description: 'Tool with JSON Schema 2020-12 features',
      inputSchema: rawJsonSchema(JSON_SCHEMA_2020_12),
    },
    () => ({ content: [text('ok')] }),
  );
  server.registerTool(
    'test_header_parameter',
    {
      description: 'Echoes a parameter that also travels as a header',
      inputSchema: rawJsonSchema(HEADER_PARAMETER_SCHEMA),
    },
    (args) => ({ content: [text(`region: ${JSON.stringify(args)}`)] }),
  );
}

function registerProtocolTools(server: McpServer, request: McpRequestContext): void {
  const modern = request.era === 'modern';
  server.registerTool(
    'test_tool_with_progress',
    { description: 'Reports progress 0, 50 and 100 of 100', inputSchema: z.object({}) },
    async (_args, ctx: ServerContext) => {
      const progressToken = ctx.mcpReq._meta?.progressToken;
      for (const progress of [0, 50, 100]) {
        if (progress > 0) await sleep(50);
        if (progressToken !== undefined) {
          await ctx.mcpReq.notify({
            method: 'notifications/progress',
            params: { progressToken, progress, total: 100, message: `step ${progress} of 100` },
          });
        }
      }
      return { content: [text(String(progressToken ?? 'no progress token'))] };
    },
  );
  server.registerTool(
    'test_logging_tool',
    { description: 'Logs at info level, when the request asks for logs', inputSchema: z.object({}) },
    async (_args, ctx: ServerContext) => {
      // Only a request that names a log level may receive log messages (SEP-2575).
      if (envelopeOf(ctx)[LOG_LEVEL_META_KEY] !== undefined) await ctx.mcpReq.log('info', 'fixture log line');
      return { content: [text('logged')] };
    },
  );
  if (!modern) {
    // 2025-11-25: a tool that logs while it runs. A stateless server keeps no level a client set
    // with logging/setLevel, so the messages go out as they are (on the call's own stream).
    server.registerTool(
      'test_tool_with_logging',
      { description: 'Logs three messages at info level while it runs', inputSchema: z.object({}) },
      async (_args, ctx: ServerContext) => {
        for (const [index, message] of [
          'Tool execution started',
          'Tool processing data',
          'Tool execution completed',
        ].entries()) {
          if (index > 0) await sleep(50);
          await ctx.mcpReq.notify({
            method: 'notifications/message',
            params: { level: 'info', data: message },
          });
        }
        return { content: [text('Tool with logging executed successfully')] };
      },
    );
  }
  if (modern) {
    // The SEP-2575 probes of scenario server-stateless.
    server.registerTool(
      'test_missing_capability',
      {
        description: 'Asks the client model a question (needs the sampling capability)',
        inputSchema: z.object({}),
      },
      (_args, ctx: ServerContext) => {
        if (ctx.mcpReq.inputResponses?.answer !== undefined) {
          return { content: [text('the client answered')] };
        }
        // The SDK refuses a request for input the client cannot give: -32021, naming `sampling`.
        return inputRequired({
          inputRequests: {
            answer: inputRequired.createMessage({
              messages: [{ role: 'user', content: text('Say anything') }],
              maxTokens: 10,
            }),
          },
        });
      },
    );
    server.registerTool(
      'test_streaming_elicitation',
      {
        description: 'Asks the client for a name through an input-required result',
        inputSchema: z.object({}),
      },
      (_args, ctx: ServerContext) => {
        const answer = ctx.mcpReq.inputResponses?.name;
        if (answer !== undefined) return { content: [text(`thanks: ${JSON.stringify(answer)}`)] };
        return inputRequired({
          inputRequests: {
            name: inputRequired.elicit({
              message: 'What is your name?',
              requestedSchema: z.object({ name: z.string() }),
            }),
          },
        });
      },
    );
  }
}

function registerResources(server: McpServer): void {
  server.registerResource(
    'static-text',
    'test://static-text',
    { description: 'A static text resource', mimeType: 'text/plain' },
    (uri) => ({
      contents: [
        { uri: uri.href, mimeType: 'text/plain', text: 'This is the content of the static text resource.' },
      ],
    }),
  );
  server.registerResource(
    'static-binary',
    'test://static-binary',
    { description: 'A static binary resource', mimeType: 'image/png' },
    (uri) => ({ contents: [{ uri: uri.href, mimeType: 'image/png', blob: PNG }] }),
  );
  server.registerResource(
    'template',
    new ResourceTemplate('test://template/{id}/data', { list: undefined }),
    { description: 'A resource template with one parameter', mimeType: 'application/json' },
    (uri, variables) => ({
      contents: [
        {
          uri: uri.href,
          mimeType: 'application/json',
          text: JSON.stringify({
            id: variables.id,
            templateTest: true,
            data: `Data for ID: ${String(variables.id)}`,
          }),
        },
      ],
    }),
  );
}

function registerPrompts(server: McpServer): void {
  server.registerPrompt('test_simple_prompt', { description: 'A prompt without arguments' }, () => ({
    messages: [{ role: 'user', content: text('This is a simple prompt for testing.') }],
  }));
  server.registerPrompt(
    'test_prompt_with_arguments',
    {
      description: 'A prompt with two arguments',
      argsSchema: z.object({
        arg1: completable(z.string().describe('First test argument'), (value) =>
          ['paris', 'park', 'party'].filter((word) => word.startsWith(value)),
        ),
        arg2: z.string().describe('Second test argument'),
      }),
    },
    ({ arg1, arg2 }) => ({
      messages: [{ role: 'user', content: text(`Prompt with arguments: arg1='${arg1}', arg2='${arg2}'`) }],
    }),
  );
  server.registerPrompt(
    'test_prompt_with_embedded_resource',
    {
      description: 'A prompt embedding a resource',
      argsSchema: z.object({ resourceUri: z.string().describe('URI of the resource to embed') }),
    },
    ({ resourceUri }) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'resource',
            resource: {
              uri: resourceUri,
              mimeType: 'text/plain',
              text: 'Embedded resource content for testing.',
            },
          },
        },
        { role: 'user', content: text('Please process the embedded resource above.') },
      ],
    }),
  );
  server.registerPrompt('test_prompt_with_image', { description: 'A prompt with an image' }, () => ({
    messages: [
      { role: 'user', content: { type: 'image', data: PNG, mimeType: 'image/png' } },
      { role: 'user', content: text('Please analyze the image above.') },
    ],
  }));
}

/**
 * The request's `_meta` envelope (2026-07-28), as the SDK lifted it out of the params: keyed by the
 * reserved names (`io.modelcontextprotocol/clientCapabilities`, …). The SDK types it as `{}`.
 */
function envelopeOf(ctx: ServerContext): Record<string, unknown> {
  return ctx.mcpReq.envelope ?? {};
}
