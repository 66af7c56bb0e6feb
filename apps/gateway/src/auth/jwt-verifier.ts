import { createRemoteJWKSet, errors, jwtVerify, type JWSAlgorithm, type JWTVerifyGetKey } from 'jose';
import type { OAuthSettings } from './auth-config.ts';
import { rateLimited, type Logger } from '@hopper/lifecycle';
import { UnauthorizedError, type TokenVerifier } from '../tenant-resolver.ts';
import { CLOCK_TOLERANCE_S, grantedScopes, tenantFromClaims } from './claims.ts';
import {
  authorizationServerUnavailable,
  retryingAfterFailure,
  type IssuerMetadata,
} from './issuer-metadata.ts';

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

/**
 * Verifies JWT access tokens of one authorization server: signature (against its JWKS), issuer,
 * audience, expiry (required) and not-before, then reads the tenant and the scopes from the claims.
 * The JWKS is fetched on first use and cached by jose; a token signed with a key not in the cache
 * makes it fetch the set again (at most every 30 s), so key rotation needs no restart. It checks
 * every token it is given: oauth-verifiers.ts remembers the verified ones.
 */
export function jwtVerifier(
  settings: OAuthSettings,
  metadata: () => Promise<IssuerMetadata>,
  logger: Logger,
): TokenVerifier {
  const keys = signingKeys(settings, metadata, logger);
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
      throw authorizationServerUnavailable(error);
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
 * issuer's metadata, looked up at start and again after a failure.
 */
function signingKeys(
  settings: OAuthSettings,
  metadata: () => Promise<IssuerMetadata>,
  logger: Logger,
): JWTVerifyGetKey {
  const loaded = retryingAfterFailure(async () => {
    const url = settings.jwksUrl ? new URL(settings.jwksUrl) : await discoveredJwksUri(metadata);
    logger.info({ issuer: settings.issuer, jwks: url.href }, 'accepting OAuth access tokens');
    return createRemoteJWKSet(url);
  });
  loaded().catch((error: unknown) =>
    logger.warn({ err: error, issuer: settings.issuer }, 'the OAuth issuer metadata is not reachable yet'),
  );
  return async (header, token) => (await loaded())(header, token);
}

async function discoveredJwksUri(metadata: () => Promise<IssuerMetadata>): Promise<URL> {
  const { jwksUri, source } = await metadata();
  if (!jwksUri) throw new Error(`the metadata at ${source} has no jwks_uri`);
  return jwksUri;
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
