import { ConfigError } from '@hopper/contracts';
import type { Closer } from './closer.ts';
import { onShutdownSignals } from './closer.ts';
import { createLogger, type Logger } from './logger.ts';

export interface ServiceDefinition<C extends { logLevel: string }> {
  /** Names the process in logs and in configuration errors (`hopper gateway: …`). */
  name: string;
  loadConfig: () => C;
  start: (config: C, logger: Logger) => Promise<Closer>;
}

/**
 * The `main()` every Hopper process shares: validate the configuration (a ConfigError is printed
 * as is, exit code 2), start, and stop everything on SIGTERM/SIGINT.
 */
export async function runService<C extends { logLevel: string }>(
  service: ServiceDefinition<C>,
): Promise<void> {
  let config: C;
  try {
    config = service.loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`hopper ${service.name}: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(service.name, config.logLevel);
  const closer = await service.start(config, logger);
  onShutdownSignals(async (signal) => {
    logger.info({ signal }, 'shutting down');
    await closer.close().catch((error: unknown) => logger.error({ err: error }, 'shutdown incomplete'));
    logger.info('stopped');
  });
}
