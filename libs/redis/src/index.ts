export { listenForCancels, publishCancel, type CancelMessage } from './cancel-bus.ts';
export { CircuitBreaker, CircuitOpenError, guarded } from './circuit-breaker.ts';
export { DocumentWriteLocks } from './document-write-locks.ts';
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
  FINISHED_JOB_TTL_SECONDS,
  JOB_INDEX_MAX,
  JobRecords,
  LIVE_JOB_LEASE_MS,
  type JobUpdate,
  type ListJobsOptions,
  type NewJob,
} from './job-records.ts';
export {
  PAYLOAD_TTL_SECONDS,
  deletePayload,
  getPayload,
  packTexts,
  packVectors,
  putPayload,
  unpackTexts,
  unpackVectors,
} from './payloads.ts';
export {
  MISSING_REDIS_MESSAGE,
  RedisServerMissingError,
  freePort,
  startRedisServer,
  type RedisServer,
  type RedisServerOptions,
} from './redis-server.ts';
export { ProgressSubscriber, type ProgressListener } from './progress-subscriber.ts';
export { TokenBucket, type TokenBucketOptions, type TokenGrant } from './token-bucket.ts';
