import { HopperError } from '@hopper/contracts';
import { isSecureUrl } from './auth-config.ts';

const METADATA_TIMEOUT_MS = 5_000;
/** After a failed lookup, the next one waits this long. */
const RETRY_MS = 5_000;

/** The fields of an authorization server's metadata (RFC 8414 section 2) the gateway uses. */
export interface IssuerMetadata {
  /** Where the metadata was found, for messages. */
  readonly source: string;
  readonly jwksUri: URL | undefined;
  readonly introspectionEndpoint: URL | undefined;
}

/**
 * A token could not be checked (the authorization server is unreachable, slow, failing, or refuses
 * Hopper): 503, not 401, so the client keeps its token and retries; the fault is not the token's.
 */
export function authorizationServerUnavailable(cause?: unknown): HopperError {
  return new HopperError(
    'unavailable',
    'the authorization server could not be reached to check the token; retry shortly',
    cause === undefined ? undefined : { cause },
  );
}

/**
 * The issuer's metadata, looked up on first use and kept; a failed lookup is retried by the first
 * call at least 5 s later (the server may be down when Hopper starts; a token a few seconds later
 * retries). Calls meanwhile get the same failure without each knocking on the server. The signing
 * keys and the introspection endpoint share one lookup.
 */
export function issuerMetadata(issuer: string): () => Promise<IssuerMetadata> {
  return retryingAfterFailure(() => discover(issuer));
}

/**
 * `load`, run once and its result kept; a failure is kept for RETRY_MS, then the next call runs
 * `load` again.
 */
export function retryingAfterFailure<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => {
    loaded ??= load().catch((error: unknown) => {
      setTimeout(() => (loaded = undefined), RETRY_MS).unref();
      throw error;
    });
    return loaded;
  };
}

/**
 * RFC 8414 first, then OpenID Connect Discovery, in the order the MCP authorization spec has clients
 * try them. The metadata must name the same issuer (RFC 8414 section 3.3), or keys of another server
 * could be trusted; the endpoints it names must be https (http on this machine), as the configured
 * ones must be.
 */
async function discover(issuer: string): Promise<IssuerMetadata> {
  for (const url of metadataUrls(issuer)) {
    const response = await fetch(url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(METADATA_TIMEOUT_MS),
    });
    if (!response.ok) continue;
    const metadata = (await response.json()) as Record<string, unknown>;
    if (metadata.issuer !== issuer) {
      throw new Error(`the metadata at ${url} names issuer ${String(metadata.issuer)}, not ${issuer}`);
    }
    return {
      source: url,
      jwksUri: endpoint(metadata, 'jwks_uri', url),
      introspectionEndpoint: endpoint(metadata, 'introspection_endpoint', url),
    };
  }
  throw new Error(`no authorization server metadata found for issuer ${issuer}`);
}

function endpoint(metadata: Record<string, unknown>, field: string, source: string): URL | undefined {
  const value = metadata[field];
  if (value === undefined) return undefined;
  const url = typeof value === 'string' && URL.canParse(value) ? new URL(value) : undefined;
  if (!url || !isSecureUrl(url)) {
    throw new Error(`the metadata at ${source} has a ${field} that is not an https:// URL`);
  }
  return url;
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
