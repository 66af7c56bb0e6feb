/**
 * The ceiling peer: a bare `node:http` JSON-RPC endpoint that answers every POST with one fixed
 * result, echoing only the request id. No MCP SDK, no validation, no work: what one Node process
 * on this machine can answer through the same load generator, which no MCP server can beat.
 *
 *   node apps/bench/src/peers/ceiling-server.ts [--result FILE]
 *
 * `--result` names a file holding the JSON `result` to send (the bench passes Hopper's own answer
 * to the measured call, so both send the same bytes); without it, an empty tool result. Prints
 * `listening <url>` when ready.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { result: { type: 'string' } } });
const result =
  values.result === undefined
    ? '{"content":[{"type":"text","text":"{}"}],"structuredContent":{}}'
    : (await readFile(values.result, 'utf8')).trim();
// Everything but the id is fixed: the answer is two string concatenations.
const prefix = `{"jsonrpc":"2.0","result":${result},"id":`;

const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (body += chunk));
  req.on('end', () => {
    const id = requestId(body);
    const text = `${prefix}${id}}`;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`listening http://127.0.0.1:${port}/mcp\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});

/** The request's id as JSON text (a JSON-RPC server must echo it); `null` when there is none. */
function requestId(body: string): string {
  try {
    const id = (JSON.parse(body) as { id?: unknown }).id;
    return JSON.stringify(id ?? null);
  } catch {
    return 'null';
  }
}
