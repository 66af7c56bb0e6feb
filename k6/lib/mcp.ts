/**
 * MCP over Streamable HTTP for k6: one JSON-RPC `tools/call` per HTTP POST, stateless, in the form
 * a current client (SDK v2, protocol 2026-07-28) sends it. Hopper's endpoint checks the
 * `Mcp-Method` / `Mcp-Name` headers against the body and requires the per-request `_meta`
 * envelope (protocol version, client info, client capabilities) on modern requests.
 */
import http, { type RefinedResponse } from 'k6/http';
import { check } from 'k6';

export const MCP_URL: string = __ENV.HOPPER_MCP_URL || 'http://127.0.0.1:8080/mcp';
const PROTOCOL_VERSION = '2026-07-28';
/** `HOPPER_TOKEN`: an API key, for a deployment with HOPPER_API_KEYS set. */
const TOKEN: string | undefined = __ENV.HOPPER_TOKEN;

export interface ToolResult {
  isError?: boolean;
  structuredContent?: Record<string, unknown>;
  content?: { type: string; text?: string }[];
}

export interface ToolCall {
  response: RefinedResponse<'text'>;
  /** The JSON-RPC result; undefined when the call failed at the protocol level. */
  result?: ToolResult;
}

let nextId = 1;

/**
 * Calls a tool and checks the answer: HTTP 200, a JSON-RPC result, not a tool error. `tags` name
 * the request in k6's metrics (thresholds select on them).
 */
export function callTool(
  name: string,
  args: Record<string, unknown>,
  tags: Record<string, string> = {},
): ToolCall {
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: nextId++,
    method: 'tools/call',
    params: {
      name,
      arguments: args,
      _meta: {
        'io.modelcontextprotocol/protocolVersion': PROTOCOL_VERSION,
        'io.modelcontextprotocol/clientInfo': { name: 'hopper-k6', version: '1.0.0' },
        'io.modelcontextprotocol/clientCapabilities': {},
      },
    },
  });
  const response = http.post(MCP_URL, body, {
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': PROTOCOL_VERSION,
      'mcp-method': 'tools/call',
      'mcp-name': name,
      ...(TOKEN ? { authorization: `Bearer ${TOKEN}` } : {}),
    },
    tags: { tool: name, ...tags },
    responseType: 'text',
  });
  const result = parseResult(response);
  check(response, {
    'status is 200': (r) => r.status === 200,
    'answer is a result': () => result !== undefined,
    'tool succeeded': () => result !== undefined && result.isError !== true,
  });
  return { response, ...(result === undefined ? {} : { result }) };
}

/**
 * The JSON-RPC result of an answer sent as JSON or as an SSE stream (a call that streams progress
 * is answered with `text/event-stream`; its last `data:` line is the result).
 */
function parseResult(response: RefinedResponse<'text'>): ToolResult | undefined {
  if (response.status !== 200 || typeof response.body !== 'string') return undefined;
  const contentType = String(response.headers['Content-Type'] ?? '');
  const text = contentType.includes('text/event-stream')
    ? (response.body
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .pop()
        ?.slice(5) ?? '')
    : response.body;
  try {
    const message = JSON.parse(text) as { result?: ToolResult };
    return message.result;
  } catch {
    return undefined;
  }
}

/** Whether a read-only tool's answer came from Hopper's result cache. */
export function fromCache(call: ToolCall): boolean {
  return call.result?.structuredContent?.['cached'] === true;
}

/** A whole number from the environment, or `fallback`. */
export function envInt(name: string, fallback: number): number {
  const value = Number(__ENV[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}
