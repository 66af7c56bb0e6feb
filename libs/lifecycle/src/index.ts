export { Closer, onShutdownSignals } from './closer.ts';
export { createLogger, type Logger } from './logger.ts';
export { rateLimited } from './rate-limited.ts';
export { runService, type ServiceDefinition } from './service.ts';
export { TimeoutError, withTimeout } from './with-timeout.ts';
