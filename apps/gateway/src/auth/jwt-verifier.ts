import { createHash } from 'node:crypto';
import { createRemoteJWKSet, errors, jwtVerify, type JWSAlgorithm, type JWTVerifyGetKey } from 'jose';
import { LRUCache } from 'lru-cache';
import { HopperError, type OAuthSettings } from '@hopper/contracts';
import { rateLimited, type Logger } from '@hopper/lifecycle';
import { UnauthorizedError, type Caller, type JwtVerifier } from '../tenant-resolver.ts';
import { grantedScopes, tenantFromClaims } from './claims.ts';

/** Clocks of the gateway and the authorization server may disagree by this much (seconds). */
const CLOCK_TOLERANCE_S = 30;
/** Asymmetric signatures only: a shared-secret (HS*) or unsigned token is never accepted. */
const ALGORITHMS: JWSAlgorithm[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];
const METADATA_TIMEOUT_MS = 5_000;
/** After a failed metadata lookup, the next one waits this long. */
const DISCOVERY_RETRY_MS = 5_000;
/** Verified tokens remembered (a client sends the same token with every request until it expires). */
const VERIFIED_MAX = 10_000;
/** How long a verified token is taken on trust before its signature is checked again. */
const VERIFIED_TTL_MS = 60_000;

/**
 * Verifies JWT access tokens of one authorization server: signature (against its JWKS), issuer,
 * audience, expiry (required) and not-before, then reads the tenant and the scopes from the claims.
 * The JWKS is fetched on first use and cached by jose; a token signed with a key not in the cache
 * makes it fetch the set again (at most every 30 s), so key rotation needs no restart.
 */
export function createJwtVerifier(settings: OAuthSettings, logger: Logger): JwtVerifier {
  return rememberVerified(verifyEachTime(settings, logger));
}

/**
 * A signature check costs 0.1-0.3 ms of CPU (RS256, ES256), a quarter of a cached call's cost, and
 * clients repeat one token for every request: a verified token is remembered (by its SHA-256) for a
 * minute at most and never past its expiry. Refused tokens are checked every time.
 */
function rememberVerified(verify: JwtVerifier): JwtVerifier {
  const verified = new LRUCache<string, Caller>({ max: VERIFIED_MAX });
  return async (token) => {
    const key = createHash('sha256').update(token).digest('base64url');
    const known = verified.get(key);
    if (known) return known;
    const caller = await verify(token);
    const ttl = Math.min(VERIFIED_TTL_MS, (caller.expiresAt ?? 0) * 1000 - Date.now());
    if (ttl > 0) verified.set(key, caller, { ttl });
    return caller;
  };
}

function verifyEachTime(settings: OAuthSettings, logger: Logger): JwtVerifier {
  const keys = signingKeys(settings, logger);
  // During an outage every token fails the same way: one warning per 10 s says so.
  const warnUnavailable = rateLimited(10_000, (error: unknown, suppressed: number) =>
    logger.warn(
      { err: error, suppressed },
      'could not check an access token against the authorization server',
    ),
  );
  return async (token) => {
    let claims;
    try {
      ({ payload: claims } = await jwtVerify(token, keys, {
        issuer: settings.issuer,
        audience: settings.audience,
        clockTolerance: CLOCK_TOLERANCE_S,
        algorithms: ALGORITHMS,
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      const problem = tokenProblem(error);
      if (problem) throw new UnauthorizedError(problem, { invalidToken: true });
      warnUnavailable(error);
      throw new HopperError(
        'unavailable',
        'the authorization server could not be reached to check the token; retry shortly',
        { cause: error },
      );
    }
    const found = tenantFromClaims(claims, settings.tenantClaim);
    if ('problem' in found) throw new UnauthorizedError(found.problem, { invalidToken: true });
    return {
      tenant: found.tenant,
      scopes: grantedScopes(claims),
      ...(claims.exp ? { expiresAt: claims.exp } : {}),
    };
  };
}

/**
 * The issuer's signing keys. With no HOPPER_OAUTH_JWKS_URL, their location is the `jwks_uri` of the
 * issuer's metadata, looked up at start and again after a failure (the server may be down when
 * Hopper starts; a token a few seconds later retries).
 */
function signingKeys(settings: OAuthSettings, logger: Logger): JWTVerifyGetKey {
  const load = async () => {
    const url = settings.jwksUrl ? new URL(settings.jwksUrl) : await discoverJwksUrl(settings.issuer);
    logger.info({ issuer: settings.issuer, jwks: url.href }, 'accepting OAuth access tokens');
    return createRemoteJWKSet(url);
  };
  let remote: Promise<JWTVerifyGetKey> | undefined;
  const loaded = () => {
    remote ??= load().catch((error: unknown) => {
      // Tokens arriving meanwhile get the same answer (503) without each knocking on the server.
      setTimeout(() => (remote = undefined), DISCOVERY_RETRY_MS).unref();
      throw error;
    });
    return remote;
  };
  loaded().catch((error: unknown) =>
    logger.warn({ err: error, issuer: settings.issuer }, 'the OAuth issuer metadata is not reachable yet'),
  );
  return async (header, token) => (await loaded())(header, token);
}

/**
 * Finds the JWKS location in the issuer's metadata: RFC 8414 first, then OpenID Connect Discovery,
 * in the order the MCP authorization spec has clients try them. The metadata must name the same
 * issuer (RFC 8414 section 3.3), or keys of another server could be trusted.
 */
async function discoverJwksUrl(issuer: string): Promise<URL> {
  for (const url of metadataUrls(issuer)) {
    const response = await fetch(url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(METADATA_TIMEOUT_MS),
    });
    if (!response.ok) continue;
    const metadata = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
    if (metadata.issuer !== issuer) {
      throw new Error(`the metadata at ${url} names issuer ${String(metadata.issuer)}, not ${issuer}`);
    }
    if (typeof metadata.jwks_uri !== 'string') throw new Error(`the metadata at ${url} has no jwks_uri`);
    return new URL(metadata.jwks_uri);
  }
  throw new Error(`no authorization server metadata found for issuer ${issuer}`);
}

function metadataUrls(issuer: string): string[] {
  const { origin, pathname } = new URL(issuer);
  const path = pathname.replace(/\/$/, '');
  return [
    `${origin}/.well-known/oauth-authorization-server${path}`,
    `${origin}/.well-known/openid-configuration${path}`,
    ...(path ? [`${origin}${path}/.well-known/openid-configuration`] : []),
  ];
}

/** Why a token is refused, for the client (RFC 6750 `error_description`), or nothing when the fault is not the token's. */
function tokenProblem(error: unknown): string | undefined {
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) return claimProblem(error.claim, error.reason);
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the token signature is not valid';
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return 'the token is not signed with a key the issuer publishes';
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return 'the token is signed with an algorithm Hopper does not accept';
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) {
    return 'the token is not a well-formed JWT';
  }
  return undefined;
}

function claimProblem(claim: string, reason: string): string {
  if (reason === 'missing') return `the token has no ${claim} claim`;
  switch (claim) {
    case 'iss':
      return 'the token was issued by another authorization server';
    case 'aud':
      return 'the token was not issued for this server (aud)';
    case 'nbf':
      return 'the token is not valid yet';
    default:
      return `the token's ${claim} claim is not valid`;
  }
}
