import { isAbsolute, resolve } from 'node:path';
import * as z from 'zod';
import { parseApiKeys, type ApiKey } from './api-keys.ts';

/** A configuration problem found at start: every problem, one line each, naming the variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

export type Env = Record<string, string | undefined>;

const emptyToUndefined = (value: unknown) => (value === '' ? undefined : value);
const optionalString = z.preprocess(emptyToUndefined, z.string().optional());
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
  .refine((value) => isSecureUrl(new URL(value)), 'must be an https:// URL (http:// only for localhost)');
/** A resource identifier (RFC 8707): an absolute http(s) URL without a fragment. */
const resourceUrl = z
  .url({ protocol: /^https?$/ })
  .refine((value) => !value.includes('#'), 'must not have a #fragment');
const positiveInt = (fallback: number) =>
  z.preprocess(emptyToUndefined, z.coerce.number().int().positive().default(fallback));

/** Environment variables every Hopper process reads (gateway, worker and the launcher alike). */
export const commonEnvSchema = z.object({
  REDIS_URL: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
      .optional(),
  ),
  HOPPER_REDIS_PREFIX: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only')
      .default('hopper'),
  ),
  HOPPER_DATA_DIR: z.preprocess(emptyToUndefined, z.string().default('./.hopper')),
  HOPPER_STORE_URI: optionalString,
  HOPPER_EMBEDDINGS_PROVIDER: z.preprocess(
    emptyToUndefined,
    z.enum(['builtin', 'openai', 'onnx']).default('builtin'),
  ),
  HOPPER_EMBEDDINGS_URL: z.preprocess(emptyToUndefined, z.url({ protocol: /^https?$/ }).optional()),
  HOPPER_EMBEDDINGS_MODEL: optionalString,
  HOPPER_EMBEDDINGS_API_KEY: optionalString,
  HOPPER_EMBEDDINGS_DIMENSIONS: z.preprocess(
    emptyToUndefined,
    z.coerce.number().int().positive().max(8192).optional(),
  ),
  HOPPER_EMBEDDINGS_BATCH_SIZE: positiveInt(64),
  HOPPER_EMBEDDINGS_TIMEOUT_MS: positiveInt(30_000),
  /** Comma-separated `tenant:key` pairs. Set: every request needs `Authorization: Bearer <key>`. */
  HOPPER_API_KEYS: optionalString,
  /** Host names the gateway answers to (comma-separated); unset with API keys: any. */
  HOPPER_ALLOWED_HOSTS: optionalString,
  /** OAuth: the authorization server whose JWT access tokens are accepted (its `iss`). */
  HOPPER_OAUTH_ISSUER: z.preprocess(emptyToUndefined, secureUrl.optional()),
  /** OAuth: the `aud` a token must carry; best the MCP endpoint's public URL (RFC 8707). */
  HOPPER_OAUTH_AUDIENCE: optionalString,
  /** OAuth: where the signing keys are; unset: the `jwks_uri` of the issuer's metadata. */
  HOPPER_OAUTH_JWKS_URL: z.preprocess(emptyToUndefined, secureUrl.optional()),
  /** OAuth: the claim naming the tenant a token acts for. */
  HOPPER_OAUTH_TENANT_CLAIM: z.preprocess(emptyToUndefined, z.string().default('hopper_tenant')),
  /** OAuth: the MCP endpoint's public URL, advertised as `resource`; unset: the audience. */
  HOPPER_OAUTH_RESOURCE: z.preprocess(emptyToUndefined, resourceUrl.optional()),
  /** OAuth: the token introspection endpoint (RFC 7662); unset: the issuer metadata's `introspection_endpoint`. */
  HOPPER_OAUTH_INTROSPECTION_URL: z.preprocess(emptyToUndefined, secureUrl.optional()),
  /** OAuth: Hopper's own client at the authorization server, for introspection (client_secret_basic). */
  HOPPER_OAUTH_CLIENT_ID: optionalString,
  HOPPER_OAUTH_CLIENT_SECRET: optionalString,
  /**
   * OAuth: how long an `active` introspection answer is trusted, in seconds: the longest a revoked
   * token is still accepted. 0 asks for every request. At most 300: past a few minutes, revocation
   * would hardly be worth its round trips.
   */
  HOPPER_OAUTH_INTROSPECTION_CACHE_SECONDS: z.preprocess(
    emptyToUndefined,
    z.coerce.number().int().min(0).max(300).default(30),
  ),
  /** A separate Redis for the cache (it may evict; the queue's must not). Unset: REDIS_URL. */
  HOPPER_CACHE_REDIS_URL: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
      .optional(),
  ),
  /** LanceDB's in-memory caches (per process): index data (vector and full-text) and file metadata. */
  HOPPER_STORE_INDEX_CACHE_MB: positiveInt(256),
  // Small on purpose; why: DEFAULT_METADATA_CACHE_BYTES in libs/store/src/store.ts.
  HOPPER_STORE_METADATA_CACHE_MB: positiveInt(16),
  HOPPER_CACHE_TTL_SEARCH_S: positiveInt(600),
  HOPPER_CACHE_TTL_DOCUMENTS_S: positiveInt(3_600),
  HOPPER_CACHE_TTL_JOBS_S: positiveInt(3_600),
  HOPPER_CACHE_TTL_EMBEDDINGS_S: positiveInt(7 * 24 * 3_600),
  HOPPER_CACHE_L1_TTL_MS: positiveInt(10_000),
  HOPPER_CACHE_L1_MAX_MB: positiveInt(64),
  HOPPER_CACHE_TIMEOUT_MS: positiveInt(100),
  HOPPER_CACHE_WARM_TOP: z.preprocess(
    emptyToUndefined,
    z.coerce.number().int().min(0).max(1_000).default(20),
  ),
  /** OpenTelemetry: traces are exported over OTLP/HTTP when an endpoint is set (the exporter reads the rest of `OTEL_*`). */
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalString,
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optionalString,
  OTEL_SDK_DISABLED: optionalString,
  /**
   * Directories `ingest_document {path}` may read from, comma-separated absolute paths. Unset:
   * ingestion by path is refused.
   */
  HOPPER_INGEST_ROOTS: z.preprocess(
    (value) =>
      typeof value === 'string'
        ? value
            .split(',')
            .map((root) => root.trim())
            .filter((root) => root !== '')
        : [],
    z.array(z.string().refine(isAbsolute, 'every root must be an absolute directory path')),
  ),
  HOPPER_LOG_LEVEL: z.preprocess(
    emptyToUndefined,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ),
});
export type CommonEnv = z.infer<typeof commonEnvSchema>;

/** A cross-field rule over the raw environment: returns one line per problem, naming the variable. */
export type EnvRule = (env: Env) => string[];

/** Cross-field rules of the common variables. */
export const commonEnvRules: EnvRule = (env) => {
  const problems: string[] = [];
  const provider = env.HOPPER_EMBEDDINGS_PROVIDER;
  if (provider === 'openai') {
    if (!env.HOPPER_EMBEDDINGS_URL) {
      problems.push(
        'HOPPER_EMBEDDINGS_URL: is required when HOPPER_EMBEDDINGS_PROVIDER=openai (e.g. https://api.openai.com/v1)',
      );
    }
    if (!env.HOPPER_EMBEDDINGS_MODEL) {
      problems.push(
        'HOPPER_EMBEDDINGS_MODEL: is required when HOPPER_EMBEDDINGS_PROVIDER=openai (e.g. text-embedding-3-small)',
      );
    }
  }
  if (provider === 'onnx') {
    problems.push(
      "HOPPER_EMBEDDINGS_PROVIDER: 'onnx' is not available in this version; use 'builtin' or 'openai'",
    );
  }
  problems.push(...parseApiKeys(env.HOPPER_API_KEYS).problems);
  problems.push(...oauthRules(env));
  return problems;
};

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

/** A rule requiring a variable, with the reason in the message. */
export function requireEnv(name: string, why: string): EnvRule {
  return (env) => (env[name] ? [] : [`${name}: is required ${why}`]);
}

/** Embedding settings as the embeddings lib takes them. */
export type EmbeddingsSettings =
  | { provider: 'builtin'; dimensions?: number }
  | {
      provider: 'openai';
      url: string;
      model: string;
      apiKey?: string;
      dimensions?: number;
      batchSize?: number;
      timeoutMs?: number;
      maxRetries?: number;
    };

/**
 * Cache settings. Each TTL bounds memory, not staleness: epochs make a stale read impossible, so
 * the TTLs can be long. The defaults and their reasons are in the configuration table, docs/configuration.md.
 */
export interface CacheSettings {
  /** `undefined`: the cache shares the main Redis. */
  redisUrl: string | undefined;
  ttlSeconds: { search: number; documents: number; jobs: number; embeddings: number };
  l1TtlMs: number;
  l1MaxBytes: number;
  /** A cache call slower than this is abandoned and the answer computed: the cache never blocks. */
  timeoutMs: number;
  /** Searches re-run per collection after a write (0 turns warming off). */
  warmTop: number;
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

/** Settings shared by every process, resolved from the common variables. */
export interface CommonConfig {
  /** `undefined` only in the launcher, which then starts a private redis-server. */
  redisUrl: string | undefined;
  redisPrefix: string;
  dataDir: string;
  storeUri: string;
  /** Bytes LanceDB may cache in memory: index data and file metadata. */
  storeCache: { indexBytes: number; metadataBytes: number };
  embeddings: EmbeddingsSettings;
  cache: CacheSettings;
  /** API keys (hashed); empty in local mode, where only loopback callers are served, as one tenant. */
  apiKeys: ApiKey[];
  /** JWT access tokens (OAuth); `undefined`: none are accepted. */
  oauth: OAuthSettings | undefined;
  /** Extra Host names to answer to (`undefined`: any, when API keys are set). */
  allowedHosts: string[] | undefined;
  /** Export traces over OTLP (an endpoint is configured and the SDK is not disabled). */
  exportTraces: boolean;
  logLevel: CommonEnv['HOPPER_LOG_LEVEL'];
  /** Absolute directories files may be ingested from by path; empty: path ingestion is refused. */
  ingestRoots: string[];
}

export function commonConfig(env: CommonEnv, cwd: string): CommonConfig {
  const dataDir = isAbsolute(env.HOPPER_DATA_DIR) ? env.HOPPER_DATA_DIR : resolve(cwd, env.HOPPER_DATA_DIR);
  const embeddings: EmbeddingsSettings =
    env.HOPPER_EMBEDDINGS_PROVIDER === 'openai'
      ? {
          provider: 'openai',
          url: env.HOPPER_EMBEDDINGS_URL ?? '',
          model: env.HOPPER_EMBEDDINGS_MODEL ?? '',
          ...(env.HOPPER_EMBEDDINGS_API_KEY ? { apiKey: env.HOPPER_EMBEDDINGS_API_KEY } : {}),
          ...(env.HOPPER_EMBEDDINGS_DIMENSIONS ? { dimensions: env.HOPPER_EMBEDDINGS_DIMENSIONS } : {}),
          batchSize: env.HOPPER_EMBEDDINGS_BATCH_SIZE,
          timeoutMs: env.HOPPER_EMBEDDINGS_TIMEOUT_MS,
        }
      : {
          provider: 'builtin',
          ...(env.HOPPER_EMBEDDINGS_DIMENSIONS ? { dimensions: env.HOPPER_EMBEDDINGS_DIMENSIONS } : {}),
        };
  return {
    redisUrl: env.REDIS_URL,
    redisPrefix: env.HOPPER_REDIS_PREFIX,
    dataDir,
    storeUri: env.HOPPER_STORE_URI ?? resolve(dataDir, 'store'),
    storeCache: {
      indexBytes: env.HOPPER_STORE_INDEX_CACHE_MB * 1024 * 1024,
      metadataBytes: env.HOPPER_STORE_METADATA_CACHE_MB * 1024 * 1024,
    },
    embeddings,
    cache: {
      redisUrl: env.HOPPER_CACHE_REDIS_URL,
      ttlSeconds: {
        search: env.HOPPER_CACHE_TTL_SEARCH_S,
        documents: env.HOPPER_CACHE_TTL_DOCUMENTS_S,
        jobs: env.HOPPER_CACHE_TTL_JOBS_S,
        embeddings: env.HOPPER_CACHE_TTL_EMBEDDINGS_S,
      },
      l1TtlMs: env.HOPPER_CACHE_L1_TTL_MS,
      l1MaxBytes: env.HOPPER_CACHE_L1_MAX_MB * 1024 * 1024,
      timeoutMs: env.HOPPER_CACHE_TIMEOUT_MS,
      warmTop: env.HOPPER_CACHE_WARM_TOP,
    },
    apiKeys: parseApiKeys(env.HOPPER_API_KEYS).keys,
    oauth: oauthSettings(env),
    allowedHosts: env.HOPPER_ALLOWED_HOSTS?.split(',')
      .map((host) => host.trim().toLowerCase())
      .filter(Boolean),
    exportTraces:
      Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) &&
      env.OTEL_SDK_DISABLED !== 'true',
    logLevel: env.HOPPER_LOG_LEVEL,
    ingestRoots: env.HOPPER_INGEST_ROOTS.map((root) => resolve(root)),
  };
}

function oauthSettings(env: CommonEnv): OAuthSettings | undefined {
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

/**
 * Parses the environment with an app's schema and rules, collecting every problem (field errors and
 * cross-field rules alike) into one ConfigError whose lines name the variable, so a person fixes
 * them all in one go.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: Env, ...rules: EnvRule[]): z.infer<S> {
  const parsed = schema.safeParse(env);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issue.path.join('.') || 'environment'}: ${issue.message}`);
  for (const rule of rules) problems.push(...rule(env));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  return parsed.data;
}

export { positiveInt as envPositiveInt };
