import * as z from 'zod';
import { envEmptyToUndefined, envOptionalString, type Env, type EnvRule } from '@hopper/contracts';
import { parseApiKeys, type ApiKey } from './api-keys.ts';

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Whether a URL may carry credentials or decide what is trusted: https, or http on this machine (a
 * development authorization server). The gateway checks URLs it discovers at run time with it too.
 */
export function isSecureUrl(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && LOCAL_HOSTS.has(url.hostname));
}

const secureUrl = z
  .url({ protocol: /^https?$/ })
  // zod runs this check even after the url check failed; that failure already names the variable.
  .refine(
    (value) => !URL.canParse(value) || isSecureUrl(new URL(value)),
    'must be an https:// URL (http:// only for localhost)',
  );
/** A resource identifier (RFC 8707): an absolute http(s) URL without a fragment. */
const resourceUrl = z
  .url({ protocol: /^https?$/ })
  .refine((value) => !value.includes('#'), 'must not have a #fragment');

/** The gateway's authentication variables (API keys, allowed hosts, OAuth); no other process reads them. */
export const authEnv = {
  /** Comma-separated `tenant:key` pairs. Set: every request needs `Authorization: Bearer <key>`. */
  HOPPER_API_KEYS: envOptionalString,
  /** Host names the gateway answers to (comma-separated); unset with API keys: any. */
  HOPPER_ALLOWED_HOSTS: envOptionalString,
  /** OAuth: the authorization server whose JWT access tokens are accepted (its `iss`). */
  HOPPER_OAUTH_ISSUER: z.preprocess(envEmptyToUndefined, secureUrl.optional()),
  /** OAuth: the `aud` a token must carry; best the MCP endpoint's public URL (RFC 8707). */
  HOPPER_OAUTH_AUDIENCE: envOptionalString,
  /** OAuth: where the signing keys are; unset: the `jwks_uri` of the issuer's metadata. */
  HOPPER_OAUTH_JWKS_URL: z.preprocess(envEmptyToUndefined, secureUrl.optional()),
  /** OAuth: the claim naming the tenant a token acts for. */
  HOPPER_OAUTH_TENANT_CLAIM: z.preprocess(envEmptyToUndefined, z.string().default('hopper_tenant')),
  /** OAuth: the MCP endpoint's public URL, advertised as `resource`; unset: the audience. */
  HOPPER_OAUTH_RESOURCE: z.preprocess(envEmptyToUndefined, resourceUrl.optional()),
  /** OAuth: the token introspection endpoint (RFC 7662); unset: the issuer metadata's `introspection_endpoint`. */
  HOPPER_OAUTH_INTROSPECTION_URL: z.preprocess(envEmptyToUndefined, secureUrl.optional()),
  /** OAuth: Hopper's own client at the authorization server, for introspection (client_secret_basic). */
  HOPPER_OAUTH_CLIENT_ID: envOptionalString,
  HOPPER_OAUTH_CLIENT_SECRET: envOptionalString,
  /**
   * OAuth: how long an `active` introspection answer is trusted, in seconds: the longest a revoked
   * token is still accepted. 0 asks for every request. At most 300: past a few minutes, revocation
   * would hardly be worth its round trips.
   */
  HOPPER_OAUTH_INTROSPECTION_CACHE_SECONDS: z.preprocess(
    envEmptyToUndefined,
    z.coerce.number().int().min(0).max(300).default(30),
  ),
};
type AuthEnv = z.infer<z.ZodObject<typeof authEnv>>;

/** Cross-field rules of the authentication variables: well-formed API keys, OAuth as a set. */
export const authEnvRules: EnvRule = (env) => [
  ...parseApiKeys(env.HOPPER_API_KEYS).problems,
  ...oauthRules(env),
];

/** Variables that mean something only with an issuer. */
const ISSUER_DEPENDENTS = [
  'HOPPER_OAUTH_AUDIENCE',
  'HOPPER_OAUTH_INTROSPECTION_URL',
  'HOPPER_OAUTH_CLIENT_ID',
  'HOPPER_OAUTH_CLIENT_SECRET',
  'HOPPER_OAUTH_INTROSPECTION_CACHE_SECONDS',
] as const;

/** The OAuth variables come as a set: an issuer needs an audience, and a resource URL to advertise. */
function oauthRules(env: Env): string[] {
  if (!env.HOPPER_OAUTH_ISSUER) {
    return ISSUER_DEPENDENTS.filter((name) => env[name]).map(
      (name) => `${name}: has no effect without HOPPER_OAUTH_ISSUER`,
    );
  }
  const problems: string[] = [];
  if (!env.HOPPER_OAUTH_AUDIENCE) {
    problems.push(
      'HOPPER_OAUTH_AUDIENCE: is required with HOPPER_OAUTH_ISSUER (the aud tokens for Hopper carry, e.g. https://hopper.example.com/mcp)',
    );
  } else if (!env.HOPPER_OAUTH_RESOURCE && !resourceUrl.safeParse(env.HOPPER_OAUTH_AUDIENCE).success) {
    problems.push(
      "HOPPER_OAUTH_RESOURCE: is required when HOPPER_OAUTH_AUDIENCE is not a URL (the MCP endpoint's public URL, e.g. https://hopper.example.com/mcp)",
    );
  }
  return [...problems, ...introspectionRules(env)];
}

/**
 * Introspection is on when Hopper has client credentials to call the endpoint with. Half a set is
 * refused rather than silently leaving revocation off: whoever set one variable expects it on.
 */
function introspectionRules(env: Env): string[] {
  const { HOPPER_OAUTH_CLIENT_ID: id, HOPPER_OAUTH_CLIENT_SECRET: secret } = env;
  if (id && !secret) {
    return [
      "HOPPER_OAUTH_CLIENT_SECRET: is required with HOPPER_OAUTH_CLIENT_ID (the secret of Hopper's client at the authorization server, for token introspection)",
    ];
  }
  if (secret && !id) {
    return [
      "HOPPER_OAUTH_CLIENT_ID: is required with HOPPER_OAUTH_CLIENT_SECRET (Hopper's client id at the authorization server, for token introspection)",
    ];
  }
  if (id) return [];
  const without = (name: string) =>
    `${name}: has no effect without HOPPER_OAUTH_CLIENT_ID and HOPPER_OAUTH_CLIENT_SECRET (the client Hopper authenticates to the introspection endpoint with; set both to turn introspection on)`;
  return (['HOPPER_OAUTH_INTROSPECTION_URL', 'HOPPER_OAUTH_INTROSPECTION_CACHE_SECONDS'] as const)
    .filter((name) => env[name])
    .map(without);
}

/** JWT access tokens from one authorization server (set when HOPPER_OAUTH_ISSUER is). */
export interface OAuthSettings {
  issuer: string;
  audience: string;
  /** `undefined`: discovered from the issuer's metadata (RFC 8414, then OpenID Connect). */
  jwksUrl: string | undefined;
  tenantClaim: string;
  /** The protected resource's identifier and public URL (RFC 9728 `resource`). */
  resource: string;
  /** Token introspection (RFC 7662); `undefined`: tokens are checked locally only (JWTs). */
  introspection: IntrospectionSettings | undefined;
}

/** How the gateway asks the authorization server whether a token is still active (RFC 7662). */
export interface IntrospectionSettings {
  /** `undefined`: the `introspection_endpoint` of the issuer's metadata. */
  url: string | undefined;
  /** Hopper's client at the authorization server (client_secret_basic, RFC 7662 section 2.1). */
  clientId: string;
  clientSecret: string;
  /** How long an `active` answer is trusted (0: never): how late a revocation may take effect. */
  cacheSeconds: number;
}

/** Who the gateway serves, resolved from the authentication variables. */
export interface AuthSettings {
  /** API keys (hashed); empty in local mode, where only loopback callers are served, as one tenant. */
  apiKeys: ApiKey[];
  /** JWT access tokens (OAuth); `undefined`: none are accepted. */
  oauth: OAuthSettings | undefined;
  /** Extra Host names to answer to (`undefined`: any, when API keys are set). */
  allowedHosts: string[] | undefined;
}

export function authSettings(env: AuthEnv): AuthSettings {
  return {
    apiKeys: parseApiKeys(env.HOPPER_API_KEYS).keys,
    oauth: oauthSettings(env),
    allowedHosts: env.HOPPER_ALLOWED_HOSTS?.split(',')
      .map((host) => host.trim().toLowerCase())
      .filter(Boolean),
  };
}

function oauthSettings(env: AuthEnv): OAuthSettings | undefined {
  if (!env.HOPPER_OAUTH_ISSUER || !env.HOPPER_OAUTH_AUDIENCE) return undefined;
  return {
    issuer: env.HOPPER_OAUTH_ISSUER,
    audience: env.HOPPER_OAUTH_AUDIENCE,
    jwksUrl: env.HOPPER_OAUTH_JWKS_URL,
    tenantClaim: env.HOPPER_OAUTH_TENANT_CLAIM,
    resource: env.HOPPER_OAUTH_RESOURCE ?? env.HOPPER_OAUTH_AUDIENCE,
    introspection:
      env.HOPPER_OAUTH_CLIENT_ID && env.HOPPER_OAUTH_CLIENT_SECRET
        ? {
            url: env.HOPPER_OAUTH_INTROSPECTION_URL,
            clientId: env.HOPPER_OAUTH_CLIENT_ID,
            clientSecret: env.HOPPER_OAUTH_CLIENT_SECRET,
            cacheSeconds: env.HOPPER_OAUTH_INTROSPECTION_CACHE_SECONDS,
          }
        : undefined,
  };
}
