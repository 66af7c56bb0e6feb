import { isAbsolute, resolve } from 'node:path';
import * as z from 'zod';

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
const positiveInt = (fallback: number) =>
  z.preprocess(emptyToUndefined, z.coerce.number().int().positive().default(fallback));

/**
 * Environment variables every Hopper process reads (gateway, worker and the launcher alike): Redis,
 * the store, embeddings, the cache's Redis and TTLs, tracing and logging. What only one app reads
 * (the gateway's authentication and ingest roots, the worker's concurrency) is in that app's
 * config.ts, which extends this schema.
 */
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
  /**
   * Gateways: answer searches from an in-memory copy of every chunk (in a thread of its own) while
   * the store holds at most this many; 0 turns it off. See docs/configuration.md for its memory.
   */
  HOPPER_SEARCH_MIRROR_MAX_CHUNKS: z.preprocess(
    emptyToUndefined,
    z.coerce.number().int().min(0).default(200_000),
  ),
  HOPPER_CACHE_TTL_EMBEDDINGS_S: positiveInt(7 * 24 * 3_600),
  HOPPER_CACHE_TIMEOUT_MS: positiveInt(100),
  /** OpenTelemetry: traces are exported over OTLP/HTTP when an endpoint is set (the exporter reads the rest of `OTEL_*`). */
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalString,
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optionalString,
  OTEL_SDK_DISABLED: optionalString,
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
  return problems;
};

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
 * The cache settings both apps use: where the cache lives, how long a cache call may take, and the
 * embedding cache (the worker fills it, the gateway reads it). The gateway's result cache (its
 * TTLs, L1, warming) is configured in apps/gateway. Each TTL bounds memory, not staleness: epochs
 * make a stale read impossible, so the TTLs can be long. The defaults and their reasons are in the
 * configuration table, docs/configuration.md.
 */
export interface CacheSettings {
  /** `undefined`: the cache shares the main Redis. */
  redisUrl: string | undefined;
  ttlSeconds: { embeddings: number };
  /** A cache call slower than this is abandoned and the answer computed: the cache never blocks. */
  timeoutMs: number;
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
  /** Chunks up to which a gateway searches from memory; 0: off. */
  searchMirrorMaxChunks: number;
  embeddings: EmbeddingsSettings;
  cache: CacheSettings;
  /** Export traces over OTLP (an endpoint is configured and the SDK is not disabled). */
  exportTraces: boolean;
  logLevel: CommonEnv['HOPPER_LOG_LEVEL'];
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
    searchMirrorMaxChunks: env.HOPPER_SEARCH_MIRROR_MAX_CHUNKS,
    embeddings,
    cache: {
      redisUrl: env.HOPPER_CACHE_REDIS_URL,
      ttlSeconds: { embeddings: env.HOPPER_CACHE_TTL_EMBEDDINGS_S },
      timeoutMs: env.HOPPER_CACHE_TIMEOUT_MS,
    },
    exportTraces:
      Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) &&
      env.OTEL_SDK_DISABLED !== 'true',
    logLevel: env.HOPPER_LOG_LEVEL,
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

export {
  emptyToUndefined as envEmptyToUndefined,
  optionalString as envOptionalString,
  positiveInt as envPositiveInt,
};
