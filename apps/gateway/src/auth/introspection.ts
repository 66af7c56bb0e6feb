import { isHopperError } from '@hopper/contracts';
import type { IntrospectionSettings, OAuthSettings } from './auth-config.ts';
import { rateLimited, type Logger } from '@hopper/lifecycle';
import { UnauthorizedError, type Caller, type TokenVerifier } from '../tenant-resolver.ts';
import { CLOCK_TOLERANCE_S, grantedScopes, tenantFromClaims } from './claims.ts';
import {
  authorizationServerUnavailable,
  retryingAfterFailure,
  type IssuerMetadata,
} from './issuer-metadata.ts';

/** RFC 7662 asks nothing of the answer's speed; a request waits this long before it is answered 503. */
const INTROSPECTION_TIMEOUT_MS = 5_000;

/** What a client is told when the authorization server says its token is not active. */
export const INACTIVE_TOKEN = 'the token has been revoked or is no longer active';

/**
 * Asks the authorization server about a token (RFC 7662): the answer's members when the token is
 * active, `undefined` when it is not (revoked, expired, unknown: the server does not say which).
 * Throws HopperError `unavailable` when there is no trustworthy answer (the server unreachable, slow,
 * failing, or refusing Hopper's own credentials), so a token is never accepted, nor its client told
 * to throw it away, on a guess.
 */
export type Introspect = (token: string) => Promise<Record<string, unknown> | undefined>;

/**
 * Token introspection at the configured endpoint, or the `introspection_endpoint` of the issuer's
 * metadata, authenticated as Hopper's client with HTTP Basic (client_secret_basic, RFC 7662 section
 * 2.1 and RFC 6749 section 2.3.1). Failures are logged at most once per 10 s each: during an outage
 * every token fails the same way.
 */
export function createIntrospect(
  settings: IntrospectionSettings,
  metadata: () => Promise<IssuerMetadata>,
  logger: Logger,
): Introspect {
  const endpoint = retryingAfterFailure(async () => {
    const url = settings.url ? new URL(settings.url) : (await metadata()).introspectionEndpoint;
    if (!url) {
      const { source } = await metadata();
      throw new Error(
        `the metadata at ${source} has no introspection_endpoint; set HOPPER_OAUTH_INTROSPECTION_URL`,
      );
    }
    logger.info({ introspection: url.href }, 'checking OAuth access tokens by introspection');
    return url;
  });
  endpoint().catch((error: unknown) =>
    logger.warn({ err: error }, 'the OAuth introspection endpoint is not known yet'),
  );
  const authorization = `Basic ${Buffer.from(
    `${formEncoded(settings.clientId)}:${formEncoded(settings.clientSecret)}`,
  ).toString('base64')}`;
  const warnUnavailable = rateLimited(10_000, (error: unknown, suppressed: number) =>
    logger.warn(
      { err: error, suppressed },
      'could not introspect an access token at the authorization server',
    ),
  );
  const reportRefused = rateLimited(10_000, (status: number, suppressed: number) =>
    logger.error(
      { status, suppressed },
      "the authorization server refuses Hopper's client credentials for token introspection: check HOPPER_OAUTH_CLIENT_ID and HOPPER_OAUTH_CLIENT_SECRET",
    ),
  );

  return async (token) => {
    let response: Response;
    let answer: unknown;
    try {
      response = await fetch(await endpoint(), {
        method: 'POST',
        headers: {
          authorization,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
        // The credentials must not follow a redirect to wherever it points.
        redirect: 'error',
        signal: AbortSignal.timeout(INTROSPECTION_TIMEOUT_MS),
      });
      if (response.status === 401 || response.status === 403) {
        await response.body?.cancel();
        reportRefused(response.status);
        throw authorizationServerUnavailable();
      }
      if (!response.ok) {
        await response.body?.cancel();
        throw new Error(`the introspection endpoint answered ${response.status}`);
      }
      answer = await response.json();
    } catch (error) {
      if (isHopperError(error)) throw error;
      warnUnavailable(error);
      throw authorizationServerUnavailable(error);
    }
    if (!isRecord(answer) || typeof answer.active !== 'boolean') {
      warnUnavailable(new Error('the introspection answer has no boolean "active" member'));
      throw authorizationServerUnavailable();
    }
    return answer.active ? answer : undefined;
  };
}

/**
 * Accepts an opaque (not JWT) access token on the authorization server's word alone: it must be
 * active, and whatever the answer says of it must fit Hopper: issued by the issuer, for Hopper's
 * audience, not expired, not a refresh token. Members the server leaves out are not required
 * (RFC 7662 requires only `active`), except the tenant claim, which a token needs to act at all.
 */
export function opaqueTokenVerifier(
  settings: OAuthSettings,
  introspect: Introspect,
  options: {
    /** What an inactive token is told (with API keys configured, it may be a mistyped key). */
    inactiveMessage: string;
    /** How often a socket asks again (Caller.recheckAfterSeconds). */
    recheckAfterSeconds: number;
  },
): TokenVerifier {
  const { inactiveMessage, recheckAfterSeconds } = options;
  return async (token) => {
    const answer = await introspect(token);
    if (!answer) throw new UnauthorizedError(inactiveMessage, { invalidToken: true });
    const problem = answerProblem(answer, settings);
    if (problem) throw new UnauthorizedError(problem, { invalidToken: true });
    const found = tenantFromClaims(answer, settings.tenantClaim);
    if ('problem' in found) throw new UnauthorizedError(found.problem, { invalidToken: true });
    const caller: Caller = { tenant: found.tenant, scopes: grantedScopes(answer), recheckAfterSeconds };
    return typeof answer.exp === 'number' ? { ...caller, expiresAt: answer.exp } : caller;
  };
}

function answerProblem(answer: Record<string, unknown>, settings: OAuthSettings): string | undefined {
  const now = Date.now() / 1000;
  const { iss, aud, exp, nbf, token_type: type } = answer;
  if (iss !== undefined && iss !== settings.issuer) {
    return 'the token was issued by another authorization server';
  }
  if (aud !== undefined && !(Array.isArray(aud) ? aud : [aud]).includes(settings.audience)) {
    return 'the token was not issued for this server (aud)';
  }
  if (exp !== undefined && (typeof exp !== 'number' || exp < now - CLOCK_TOLERANCE_S)) {
    return 'the token has expired';
  }
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now + CLOCK_TOLERANCE_S)) {
    return 'the token is not valid yet';
  }
  // `refresh_token`, or the token type URI urn:ietf:params:oauth:token-type:refresh_token (RFC 8693).
  if (typeof type === 'string' && /refresh/i.test(type)) {
    return 'a refresh token is not an access token';
  }
  return undefined;
}

/** application/x-www-form-urlencoded, as client credentials are encoded before Basic (RFC 6749 section 2.3.1). */
function formEncoded(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
