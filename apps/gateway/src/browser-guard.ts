import type { IncomingHttpHeaders } from 'node:http';

/**
 * The Host names the gateway answers to. `undefined` means any: only when every request must carry
 * an API key, which a page on another site cannot make a browser send (DNS rebinding gains nothing).
 */
export type AllowedHosts = ReadonlySet<string> | undefined;

/**
 * Refuses requests a web page on another site could make a browser send: a Host this gateway does
 * not answer to (DNS rebinding) or a cross-site Origin (a foreign page posting to the REST API or
 * opening a WebSocket, which browsers allow without CORS). Clients that are not browsers send no
 * Origin and pass. Returns the reason for a refusal, or `undefined` when the request may proceed.
 */
export function browserGuard(headers: IncomingHttpHeaders, allowedHosts: AllowedHosts): string | undefined {
  const hostHeader = headers.host ?? '';
  const host = hostHeader.replace(/:\d+$/, '');
  if (allowedHosts && !allowedHosts.has(host)) return `host '${host}' is not allowed`;
  const origin = headers.origin;
  if (origin === undefined) return undefined;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return `origin '${origin}' is not allowed`;
  }
  return originHost === hostHeader ? undefined : `origin '${origin}' is not allowed`;
}
