import type { OAuthSettings } from './auth-config.ts';
import type { Logger } from '@hopper/lifecycle';
import { UnauthorizedError, type TokenVerifier } from '../tenant-resolver.ts';
import { INACTIVE_TOKEN, createIntrospect, opaqueTokenVerifier } from './introspection.ts';
import { issuerMetadata } from './issuer-metadata.ts';
import { jwtVerifier } from './jwt-verifier.ts';
import { rememberVerified } from './verified-tokens.ts';

/**
 * Without introspection, a verified JWT is taken on trust this long before its signature is checked
 * again (never past its expiry): nothing can revoke it sooner anyway.
 */
const JWT_TRUST_MS = 60_000;

/** How the gateway checks OAuth access tokens: JWTs, and opaque tokens when introspection is on. */
export interface OAuthVerifiers {
  jwt: TokenVerifier;
  /** `undefined`: opaque tokens are not access tokens (only API keys). */
  opaque: TokenVerifier | undefined;
}

/**
 * Without introspection, JWTs are verified locally only (signature, claims) and trusted until they
 * expire. With it, a JWT is verified locally first (a forged or foreign token never costs a round
 * trip, and never reaches the authorization server), then the authorization server is asked whether
 * it is still active; opaque tokens are accepted on its answer alone. Either answer is trusted for
 * HOPPER_OAUTH_INTROSPECTION_CACHE_SECONDS: the longest a revoked token is still accepted.
 */
export function createOAuthVerifiers(
  settings: OAuthSettings,
  options: { apiKeys: boolean; logger: Logger },
): OAuthVerifiers {
  const { logger } = options;
  const metadata = issuerMetadata(settings.issuer);
  const jwt = jwtVerifier(settings, metadata, logger);
  const { introspection } = settings;
  if (!introspection) return { jwt: rememberVerified(jwt, JWT_TRUST_MS), opaque: undefined };

  const introspect = createIntrospect(introspection, metadata, logger);
  // A socket asks again as often as an HTTP request would, at most once a second when every request asks.
  const recheckAfterSeconds = Math.max(1, introspection.cacheSeconds);
  const trustMs = introspection.cacheSeconds * 1000;
  const activeJwt: TokenVerifier = async (token) => {
    const caller = await jwt(token);
    if (!(await introspect(token))) throw new UnauthorizedError(INACTIVE_TOKEN, { invalidToken: true });
    return { ...caller, recheckAfterSeconds };
  };
  const opaque = opaqueTokenVerifier(settings, introspect, {
    inactiveMessage: options.apiKeys
      ? 'the bearer token is neither a valid API key nor an active access token'
      : INACTIVE_TOKEN,
    recheckAfterSeconds,
  });
  return { jwt: rememberVerified(activeJwt, trustMs), opaque: rememberVerified(opaque, trustMs) };
}
