import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { hashApiKey, type ApiKey } from '@hopper/contracts';

/** What a tenant is resolved from: an HTTP request, or a Socket.IO handshake (which is one). */
export interface TenantRequest {
  headers: IncomingHttpHeaders;
  /** The peer's address as the socket sees it. */
  remoteAddress: string | undefined;
  /**
   * A credential given out of band: the Socket.IO handshake's `auth.token` (browsers cannot set
   * headers on a WebSocket). HTTP requests carry theirs in `Authorization: Bearer`.
   */
  token?: string;
}

/** The caller is not allowed in; the message is safe to show. */
export class UnauthorizedError extends Error {
  override readonly name = 'UnauthorizedError';
}

/**
 * Resolves the tenant a request acts for, or throws UnauthorizedError. One resolver serves every
 * entry point (MCP, REST and Socket.IO), so a client is the same tenant whichever protocol it
 * speaks. Tests inject their own.
 */
export type TenantResolver = (request: TenantRequest) => Promise<string>;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

/**
 * Local mode (no API keys configured): every caller is the single tenant, and only callers on this
 * machine get in. The gateway binds to loopback in this mode anyway; checking the peer too keeps
 * the rule true if a proxy or a future bind option ever exposes the port.
 */
export function localTenantResolver(tenant: string): TenantResolver {
  return (request) => {
    if (!LOOPBACK.test(request.remoteAddress ?? '')) {
      return Promise.reject(
        new UnauthorizedError('this Hopper serves local clients only (no API keys are configured)'),
      );
    }
    return Promise.resolve(tenant);
  };
}

/** The bearer token of an `Authorization` header, if any. */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
  return match?.[1];
}

/**
 * API-key mode: the tenant is the one whose key the request carries (`Authorization: Bearer`, or
 * the Socket.IO handshake's `auth.token`). Keys are compared as SHA-256 hashes in constant time,
 * against every configured key, so timing tells nothing about how close a guess was.
 */
export function apiKeyTenantResolver(keys: readonly ApiKey[]): TenantResolver {
  return (request) => {
    const token = request.token ?? bearerToken(request.headers);
    if (!token)
      return Promise.reject(new UnauthorizedError('an API key is required: Authorization: Bearer <key>'));
    const hash = hashApiKey(token);
    let tenant: string | undefined;
    for (const key of keys) {
      if (timingSafeEqual(hash, key.keyHash) && tenant === undefined) tenant = key.tenant;
    }
    return tenant === undefined
      ? Promise.reject(new UnauthorizedError('the API key is not valid'))
      : Promise.resolve(tenant);
  };
}
