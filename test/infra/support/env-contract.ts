import { isDeepStrictEqual } from 'node:util';
import { ConfigError, commonEnvSchema, type Env } from '@hopper/contracts';
import { loadConfig as loadGatewayConfig } from '../../../apps/gateway/src/config.ts';
import { loadConfig as loadWorkerConfig } from '../../../apps/worker/src/config.ts';

export type App = 'gateway' | 'worker';

export const loaders: Record<App, (env: Env) => unknown> = {
  gateway: (env) => loadGatewayConfig(env, '/'),
  worker: (env) => loadWorkerConfig(env, '/'),
};

/**
 * Variables that are not Hopper's but are read in a Hopper process by a library, by design:
 * LanceDB's object store client takes its endpoint, region and credentials from the standard
 * `AWS_*` variables (https://docs.lancedb.com/storage/configuration).
 */
export const LIBRARY_VARIABLES = new Set([
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_REGION',
  'AWS_ENDPOINT',
  'AWS_ALLOW_HTTP',
]);

/** Environments the probes start from: the built-in embedder, and the OpenAI-compatible one. */
const BASES: Env[] = [
  { REDIS_URL: 'redis://probe:6379' },
  {
    REDIS_URL: 'redis://probe:6379',
    HOPPER_EMBEDDINGS_PROVIDER: 'openai',
    HOPPER_EMBEDDINGS_URL: 'https://embeddings.example/v1',
    HOPPER_EMBEDDINGS_MODEL: 'probe-model',
  },
];

/** Values of every kind a variable could take, so at least one changes or is refused. */
const PROBES = ['7', 'not a valid value %', '::1', 'https://probe.example/v1', 'openai', 'true'];

/**
 * Whether an app's configuration reads `name`: it is in the shared schema, or setting it changes
 * the parsed configuration or makes it refuse the value naming the variable. The app schemas are
 * private to their modules, so this asks `loadConfig` itself rather than a copy of its list.
 */
export function readsVariable(app: App, name: string): boolean {
  if (name in commonEnvSchema.shape) return true;
  const load = loaders[app];
  for (const base of BASES) {
    const baseline = load(base);
    for (const value of PROBES) {
      try {
        if (!isDeepStrictEqual(load({ ...base, [name]: value }), baseline)) return true;
      } catch (error) {
        if (error instanceof ConfigError && error.problems.some((p) => p.startsWith(`${name}:`))) return true;
        throw error;
      }
    }
  }
  return false;
}

/** The problems `loadConfig` reports for an environment (empty when it starts). */
export function configProblems(app: App, env: Env): string[] {
  try {
    loaders[app](env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}
