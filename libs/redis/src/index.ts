export { CircuitBreaker, CircuitOpenError, guarded } from './circuit-breaker.ts';
export { RedisCommitClock } from './commit-clock.ts';
export { DocumentWriteLocks } from './document-write-locks.ts';
export { RedisDocumentListing } from './document-listing.ts';
export { RedisDocumentRecords } from './document-records.ts';
export { releaseOwned } from './owned-keys.ts';
export {
  REDIS_UNAVAILABLE_MESSAGE,
  closeRedis,
  createRedis,
  isRedisUnavailable,
  type CreateRedisOptions,
  type RedisRole,
} from './client.ts';
export {
  MISSING_REDIS_MESSAGE,
  RedisServerMissingError,
  freePort,
  startRedisServer,
  type RedisServer,
  type RedisServerOptions,
} from './redis-server.ts';
export { TokenBucket, type TokenBucketOptions, type TokenGrant } from './token-bucket.ts';
