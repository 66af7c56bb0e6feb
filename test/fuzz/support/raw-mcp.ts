import { connect } from 'node:net';
import type { HopperErrorCode } from '@hopper/contracts';

/**
 * MCP over plain HTTP, byte for byte what the test says: the fuzz tests need requests no SDK
 * client would send, and to see the status and body of every answer.
 */

export const MCP_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
};

export interface RawReply {
  status: number;
  contentType: string;
  text: string;
  /** JSON-RPC messages in the body: one JSON document, or the `data:` of each SSE event. */
  messages: unknown[];
}

/** A request that gets no answer within this time fails the property (a hang is a bug too). */
const REPLY_TIMEOUT_MS = 20_000;

export async function postRaw(
  url: string,
  body: string | Uint8Array<ArrayBuffer>,
  headers: Record<string, string> = MCP_HEADERS,
  method = 'POST',
): Promise<RawReply> {
  const response = await fetch(url, {
    method,
    headers,
    ...(method === 'GET' || method === 'HEAD' ? {} : { body }),
    signal: AbortSignal.timeout(REPLY_TIMEOUT_MS),
  });
  const text = await response.text();
  const contentType = response.headers.get('content-type') ?? '';
  return { status: response.status, contentType, text, messages: parseMessages(contentType, text) };
}

function parseMessages(contentType: string, text: string): unknown[] {
  if (contentType.startsWith('text/event-stream')) {
    return text
      .split(/\r?\n\r?\n/)
      .map((event) =>
        event
          .split(/\r?\n/)
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trimStart())
          .join('\n'),
      )
      .filter((data) => data.length > 0)
      .map((data) => JSON.parse(data) as unknown);
  }
  if (contentType.startsWith('application/json') && text.length > 0) return [JSON.parse(text) as unknown];
  return [];
}

export function toolCallBody(id: number, name: string, argsJson: string): string {
  return `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":${JSON.stringify(name)},"arguments":${argsJson}}}`;
}

const errorCodes: readonly HopperErrorCode[] = [
  'invalid_argument',
  'not_found',
  'conflict',
  'cancelled',
  'job_failed',
  'busy',
  'timeout',
  'unavailable',
  'unsupported',
  'internal',
];

/** How a call ended, as a client can tell without reading prose. */
export type Outcome =
  | { kind: 'success'; structured: Record<string, unknown> }
  | { kind: 'tool_error'; code: HopperErrorCode; message: string }
  | { kind: 'rpc_error'; code: number; message: string };

/**
 * Reads the outcome of a JSON-RPC request from its reply, or throws saying why the reply is not a
 * typed answer: a 5xx, a body that is not JSON-RPC, a failed tool call without an error code.
 */
export function outcomeOf(reply: RawReply, id: number | null): Outcome {
  if (reply.status >= 500) throw new Error(`HTTP ${reply.status}: ${reply.text.slice(0, 300)}`);
  const answer = reply.messages.find(
    (m): m is Record<string, unknown> => isRecord(m) && ('result' in m || 'error' in m),
  );
  if (!answer) throw new Error(`no JSON-RPC answer (HTTP ${reply.status}): ${reply.text.slice(0, 300)}`);
  if (answer.jsonrpc !== '2.0') throw new Error(`not JSON-RPC 2.0: ${reply.text.slice(0, 300)}`);
  if (answer.id !== id && answer.id !== null)
    throw new Error(`answer to id ${JSON.stringify(answer.id)}, not ${id}`);
  if (isRecord(answer.error)) {
    const { code, message } = answer.error;
    if (!Number.isInteger(code) || typeof message !== 'string')
      throw new Error(`untyped error: ${reply.text}`);
    if (reply.status !== 200 && reply.status < 400) throw new Error(`error with HTTP ${reply.status}`);
    return { kind: 'rpc_error', code: code as number, message };
  }
  const result = answer.result;
  if (!isRecord(result)) throw new Error(`result is not an object: ${reply.text.slice(0, 300)}`);
  if (result.isError === true) {
    const meta = isRecord(result._meta) ? result._meta['hopper/error'] : undefined;
    const code = isRecord(meta) ? meta.code : undefined;
    if (!errorCodes.includes(code as HopperErrorCode)) {
      throw new Error(`tool error without an error code: ${reply.text.slice(0, 300)}`);
    }
    const content = Array.isArray(result.content) ? (result.content as { text?: unknown }[]) : [];
    const message = content.map((c) => (typeof c.text === 'string' ? c.text : '')).join(' ');
    if (message.length === 0) throw new Error(`tool error without a message: ${reply.text.slice(0, 300)}`);
    return { kind: 'tool_error', code: code as HopperErrorCode, message };
  }
  if (!isRecord(result.structuredContent)) {
    throw new Error(`success without structured content: ${reply.text.slice(0, 300)}`);
  }
  return { kind: 'success', structured: result.structuredContent };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Writes raw bytes to the server and collects what comes back until the server closes the
 * connection or `holdMs` passes; `end` half-closes after writing (a truncated upload), otherwise the
 * connection stays open and silent (a stalled one) until the test drops it.
 */
export function rawExchange(
  url: string,
  bytes: string | Uint8Array,
  options: { end: boolean; holdMs: number },
): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let received = '';
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(received);
    };
    const timer = setTimeout(done, options.holdMs);
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('error', done);
    socket.on('close', done);
    socket.write(bytes);
    if (options.end) socket.end();
  });
}
