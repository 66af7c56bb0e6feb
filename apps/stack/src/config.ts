import {
  commonConfig,
  commonEnvRules,
  commonEnvSchema,
  parseEnv,
  type CommonConfig,
  type Env,
} from '@hopper/contracts';

/** The launcher validates the shared variables once, so a problem is reported before anything starts. */
export function loadConfig(env: Env, cwd = process.cwd()): CommonConfig {
  return commonConfig(parseEnv(commonEnvSchema, env, commonEnvRules), cwd);
}
