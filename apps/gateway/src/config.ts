import * as z from 'zod';
import {
  commonConfig,
  commonEnvRules,
  commonEnvSchema,
  parseEnv,
  requireEnv,
  type CommonConfig,
  type Env,
  type EnvRule,
} from '@hopper/contracts';
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
  ...limitsEnv,
});

/** Without authentication (API keys or OAuth) the gateway must not be reachable from other machines. */
const loopbackOnly: EnvRule = (env) => {
  const host = env.HOPPER_HOST || '127.0.0.1';
  return LOOPBACK.has(host) || env.HOPPER_API_KEYS || env.HOPPER_OAUTH_ISSUER
    ? []
    : [
        `HOPPER_HOST: '${host}' is not a loopback address; without authentication Hopper serves loopback only (set HOPPER_API_KEYS or HOPPER_OAUTH_ISSUER to serve other machines)`,
      ];
};

export interface GatewayConfig extends CommonConfig {
  redisUrl: string;
  port: number;
  host: string;
  slowCallMs: number;
  /** Cache hits of the read-only tools are answered without the SDK (HOPPER_MCP_FAST_PATH). */
  mcpFastPath: boolean;
  /** Micro-batching window for remote query embeddings, in ms. */
  embeddingsBatchWindowMs: number;
  limits: LimitSettings;
  /** Local single-tenant mode: every request belongs to this tenant until auth exists. */
  tenant: string;
}

/** Reads and validates the gateway's environment; throws ConfigError listing every problem. */
export function loadConfig(env: Env, cwd = process.cwd()): GatewayConfig {
  const parsed = parseEnv(
    gatewayEnvSchema,
    env,
    commonEnvRules,
    loopbackOnly,
    limitsEnvRules,
    requireEnv('REDIS_URL', 'for a gateway (npm start sets it for the local stack)'),
  );
  return {
    ...commonConfig(parsed, cwd),
    redisUrl: parsed.REDIS_URL ?? '',
    port: parsed.HOPPER_PORT,
    host: parsed.HOPPER_HOST,
    slowCallMs: parsed.HOPPER_SLOW_CALL_MS,
    mcpFastPath: parsed.HOPPER_MCP_FAST_PATH === 'on',
    embeddingsBatchWindowMs: parsed.HOPPER_EMBEDDINGS_BATCH_WINDOW_MS,
    limits: limitSettings(parsed),
    tenant: 'local',
  };
}
