import { isAbsolute, resolve } from 'node:path';
import * as z from 'zod';
import {
  commonConfig,
  commonEnvRules,
  commonEnvSchema,
  envPositiveInt,
  parseEnv,
  requireEnv,
  type CacheSettings,
  type CommonConfig,
  type Env,
  type EnvRule,
} from '@hopper/contracts';
import { authEnv, authEnvRules, authSettings, type AuthSettings } from './auth/auth-config.ts';
import { limitSettings, limitsEnv, limitsEnvRules, type LimitSettings } from './limits-config.ts';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

const gatewayEnvSchema = commonEnvSchema.extend({
  HOPPER_PORT: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.coerce.number().int().min(0).max(65_535).default(8080),
  ),
  HOPPER_HOST: z.preprocess((v) => (v === '' ? undefined : v), z.string().default('127.0.0.1')),
  /** Calls slower than this are logged as warnings with their trace id (the latency promise). */
  HOPPER_SLOW_CALL_MS: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.coerce.number().int().positive().default(100),
  ),
  /**
   * Remote embeddings (openai provider) only: how long a query embedding waits for concurrent ones
   * to share its provider request. 0 batches only calls made in the same event-loop turn.
   */
  HOPPER_EMBEDDINGS_BATCH_WINDOW_MS: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.coerce.number().int().min(0).max(100).default(2),
  ),
  /**
   * `off` sends every MCP request through the SDK, cache hits included (see mcp/fast-path.ts): for
   * comparing the two paths (the fast-path tests, the bench), or to rule the fast path out.
   */
  HOPPER_MCP_FAST_PATH: z.preprocess((v) => (v === '' ? undefined : v), z.enum(['on', 'off']).default('on')),
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
  HOPPER_CACHE_TTL_SEARCH_S: envPositiveInt(600),
  HOPPER_CACHE_TTL_DOCUMENTS_S: envPositiveInt(3_600),
  HOPPER_CACHE_TTL_JOBS_S: envPositiveInt(3_600),
  HOPPER_CACHE_L1_TTL_MS: envPositiveInt(10_000),
  HOPPER_CACHE_L1_MAX_MB: envPositiveInt(64),
  HOPPER_CACHE_WARM_TOP: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.coerce.number().int().min(0).max(1_000).default(20),
  ),
  ...authEnv,
  ...limitsEnv,
});

/**
 * The gateway's cache: the shared settings plus its result cache (answers of the read tools and of
 * get_job, kept per TTL in Redis and, for `l1TtlMs`, in this process) and warming.
 */
export interface ResultCacheSettings extends CacheSettings {
  ttlSeconds: CacheSettings['ttlSeconds'] & { search: number; documents: number; jobs: number };
  l1TtlMs: number;
  l1MaxBytes: number;
  /** Searches re-run per collection after a write (0 turns warming off). */
  warmTop: number;
}

/** Without authentication (API keys or OAuth) the gateway must not be reachable from other machines. */
const loopbackOnly: EnvRule = (env) => {
  const host = env.HOPPER_HOST || '127.0.0.1';
  return LOOPBACK.has(host) || env.HOPPER_API_KEYS || env.HOPPER_OAUTH_ISSUER
    ? []
    : [
        `HOPPER_HOST: '${host}' is not a loopback address; without authentication Hopper serves loopback only (set HOPPER_API_KEYS or HOPPER_OAUTH_ISSUER to serve other machines)`,
      ];
};

export interface GatewayConfig extends CommonConfig, AuthSettings {
  redisUrl: string;
  port: number;
  host: string;
  slowCallMs: number;
  /** Cache hits of the read-only tools are answered without the SDK (HOPPER_MCP_FAST_PATH). */
  mcpFastPath: boolean;
  /** Micro-batching window for remote query embeddings, in ms. */
  embeddingsBatchWindowMs: number;
  cache: ResultCacheSettings;
  limits: LimitSettings;
  /** Absolute directories files may be ingested from by path; empty: path ingestion is refused. */
  ingestRoots: string[];
  /** Local single-tenant mode: every request belongs to this tenant until auth exists. */
  tenant: string;
}

/** Reads and validates the gateway's environment; throws ConfigError listing every problem. */
export function loadConfig(env: Env, cwd = process.cwd()): GatewayConfig {
  const parsed = parseEnv(
    gatewayEnvSchema,
    env,
    commonEnvRules,
    authEnvRules,
    loopbackOnly,
    limitsEnvRules,
    requireEnv('REDIS_URL', 'for a gateway (npm start sets it for the local stack)'),
  );
  const common = commonConfig(parsed, cwd);
  return {
    ...common,
    ...authSettings(parsed),
    cache: {
      ...common.cache,
      ttlSeconds: {
        ...common.cache.ttlSeconds,
        search: parsed.HOPPER_CACHE_TTL_SEARCH_S,
        documents: parsed.HOPPER_CACHE_TTL_DOCUMENTS_S,
        jobs: parsed.HOPPER_CACHE_TTL_JOBS_S,
      },
      l1TtlMs: parsed.HOPPER_CACHE_L1_TTL_MS,
      l1MaxBytes: parsed.HOPPER_CACHE_L1_MAX_MB * 1024 * 1024,
      warmTop: parsed.HOPPER_CACHE_WARM_TOP,
    },
    redisUrl: parsed.REDIS_URL ?? '',
    port: parsed.HOPPER_PORT,
    host: parsed.HOPPER_HOST,
    slowCallMs: parsed.HOPPER_SLOW_CALL_MS,
    mcpFastPath: parsed.HOPPER_MCP_FAST_PATH === 'on',
    embeddingsBatchWindowMs: parsed.HOPPER_EMBEDDINGS_BATCH_WINDOW_MS,
    limits: limitSettings(parsed),
    ingestRoots: parsed.HOPPER_INGEST_ROOTS.map((root) => resolve(root)),
    tenant: 'local',
  };
}
