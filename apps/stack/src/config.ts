import {
  commonConfig,
  commonEnvRules,
  commonEnvSchema,
  parseEnv,
  type CommonConfig,
  type Env,
} from '@hopper/contracts';

/**
 * The launcher validates the shared variables once, so a problem there is reported before anything
 * starts. What only one app reads (the gateway's authentication, the worker's concurrency) that app
 * validates itself at start; the launcher then stops, saying which app could not start and why.
 */
export function loadConfig(env: Env, cwd = process.cwd()): CommonConfig {
  return commonConfig(parseEnv(commonEnvSchema, env, commonEnvRules), cwd);
}
