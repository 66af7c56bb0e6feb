/**
 * MCP `tools/call` requests as the SDK v2 client puts them on the wire for the stateless modern
 * protocol (2026-07-28), so the raw load generator sends byte for byte what a real client sends:
 * - headers `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` (the server checks them against
 *   the body and answers -32020 when they disagree);
 * - the per-request `_meta` envelope with protocol version, client info and capabilities (all
 *   three required: without them the server answers -32602);
 * - `Accept: application/json, text/event-stream` (a call may be answered with an SSE stream).
 * Seen with `new Client(..., { versionNegotiation: { mode: { pin: '2026-07-28' } } })` and a
 * logging `fetch`: the client sends one `server/discover` first, then these.
 */
export const MODERN_PROTOCOL_VERSION = '2026-07-28';

const CLIENT_INFO = { name: 'hopper-bench', version: '1.0.0' };

export function toolCallHeaders(tool: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': MODERN_PROTOCOL_VERSION,
    'mcp-method': 'tools/call',
    'mcp-name': tool,
  };
}

/** One JSON-RPC `tools/call` body. */
export function toolCallBody(id: number, tool: string, args: unknown, progressToken?: string): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: {
      name: tool,
      arguments: args,
      _meta: {
        'io.modelcontextprotocol/protocolVersion': MODERN_PROTOCOL_VERSION,
        'io.modelcontextprotocol/clientInfo': CLIENT_INFO,
        'io.modelcontextprotocol/clientCapabilities': {},
        ...(progressToken === undefined ? {} : { progressToken }),
      },
    },
  });
}

/** What a raw answer says, read without parsing the JSON (the generator must stay cheap). */
export type AnswerKind = 'ok' | 'tool_error' | 'rpc_error';

/**
 * Classifies a `tools/call` answer body (JSON or SSE). A JSON-RPC error has a top-level `error`;
 * a tool failure is a result with `"isError":true`. Either can only appear as those keys in this
 * position because tool output is JSON-escaped inside `text` and never contains a bare `"error":{`
 * at the top level before `"result"`.
 */
export function classifyAnswer(status: number, body: string): AnswerKind {
  if (status !== 200) return 'rpc_error';
  if (!body.includes('"result"')) return 'rpc_error';
  return body.includes('"isError":true') ? 'tool_error' : 'ok';
}
