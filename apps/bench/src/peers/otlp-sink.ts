/**
 * An OpenTelemetry collector stand-in for the tracing-overhead scenario: accepts OTLP/HTTP exports
 * (`POST /v1/traces`, JSON or protobuf), reads them and throws them away, answering 200 as a
 * collector does. Its own process, so its work is not the load generator's. Prints
 * `listening <url>` (the base URL, for OTEL_EXPORTER_OTLP_ENDPOINT) when ready.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

let spansBytes = 0;
const server = createServer((req, res) => {
  req.on('data', (chunk: Buffer) => (spansBytes += chunk.length));
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`listening http://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => {
  process.stdout.write(`received ${spansBytes} bytes\n`);
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
