import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { scopes, type Scope } from '@hopper/contracts';
import { hashApiKey, type ApiKey } from './auth/api-keys.ts';

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

/** Who a request acts for and what it may do. */
export interface Caller {
  tenant: string;
  scopes: readonly Scope[];
  /** When the credential stops being valid (a JWT's `exp`, seconds since the epoch); keys never do. */
  expiresAt?: number;
  /**
   * Set when the credential can be revoked before it expires (an access token checked by
   * introspection): a long-lived connection (a socket) resolves it again this often, in seconds.
   */
  recheckAfterSeconds?: number;
}

/** The caller is not allowed in; the message is safe to show. */
export class UnauthorizedError extends Error {
  override readonly name = 'UnauthorizedError';
  /** A credential was given but is not valid (RFC 6750 `invalid_token`), rather than none at all. */
  readonly invalidToken: boolean;

  constructor(message: string, options: { invalidToken: boolean }) {
    super(message);
    this.invalidToken = options.invalidToken;
  }
}

/**
 * Resolves who a request acts for, or throws UnauthorizedError. One resolver serves every entry
 * point (MCP, REST and Socket.IO), so a client is the same tenant, with the same scopes, whichever
 * protocol it speaks. Tests inject their own.
 */
export type TenantResolver = (request: TenantRequest) => Promise<Caller>;

/**
 * Checks an access token and says whom it is for, or throws UnauthorizedError (the token is at
 * fault) or HopperError `unavailable` (it could not be checked): see auth/oauth-verifiers.ts.
 */
export type TokenVerifier = (token: string) => Promise<Caller>;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

/**
 * Local mode (no authentication configured): every caller is the single tenant, with every scope,
 * and only callers on this machine get in. The gateway binds to loopback in this mode anyway;
 * checking the peer too keeps the rule true if a proxy or a future bind option exposes the port.
 */
export function localTenantResolver(tenant: string): TenantResolver {
  return (request) => {
    if (!LOOPBACK.test(request.remoteAddress ?? '')) {
      return Promise.reject(
        new UnauthorizedError('this Hopper serves local clients only (no authentication is configured)', {
          invalidToken: false,
        }),
      );
    }
    return Promise.resolve({ tenant, scopes });
  };
}

/** The bearer token of an `Authorization` header, if any. */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
  return match?.[1];
}

/** A JWS in compact form: three base64url parts (an API key has no dots). */
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]+$/;

/**
 * Authenticated mode: the caller is whoever the bearer credential (`Authorization: Bearer`, or the
 * Socket.IO handshake's `auth.token`) says. A credential shaped like a JWT goes to the JWT verifier
 * when OAuth is configured. Anything else is looked up among the API keys first, and only when it
 * is none of them goes to the opaque token verifier (token introspection, when configured): an API
 * key never leaves the gateway.
 */
export function bearerTenantResolver(options: {
  apiKeys: readonly ApiKey[];
  jwt?: TokenVerifier;
  opaque?: TokenVerifier;
}): TenantResolver {
  const { apiKeys, jwt, opaque } = options;
  const what = jwt && apiKeys.length === 0 ? 'an access token' : 'an API key or access token';
  return async (request) => {
    const token = request.token ?? bearerToken(request.headers);
    if (!token) {
      throw new UnauthorizedError(`${what} is required: Authorization: Bearer <token>`, {
        invalidToken: false,
      });
    }
    if (jwt && JWT_SHAPE.test(token)) return await jwt(token);
    const byKey = callerOfApiKey(apiKeys, token);
    if (byKey) return byKey;
    if (opaque) return await opaque(token);
    throw new UnauthorizedError(
      apiKeys.length === 0 ? 'the bearer token is not a JWT access token' : 'the API key is not valid',
      { invalidToken: true },
    );
  };
}

/**
 * Keys are compared as SHA-256 hashes in constant time, against every configured key, so timing
 * tells nothing about how close a guess was.
 */
function callerOfApiKey(keys: readonly ApiKey[], token: string): Caller | undefined {
  const hash = hashApiKey(token);
  let found: ApiKey | undefined;
  for (const key of keys) {
    if (timingSafeEqual(hash, key.keyHash) && found === undefined) found = key;
  }
  return found && { tenant: found.tenant, scopes: found.scopes };
}
