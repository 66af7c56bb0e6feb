/**
 * The job protocol, producer and consumer sides, typed from the job catalog (`@hopper/contracts`):
 *
 * - `JobsService` (jobs-service.ts): submit, find, wait and follow, cancel, list; the gateway's side.
 * - `createProcessor` (processor.ts): the BullMQ processor around a worker's handler: the record,
 *   the throttled progress (`ProgressReporter`), the cancel signal and the outcome; `JobWorkers`
 *   (job-workers.ts): a worker process's BullMQ workers, cancels, lost locks, stalls and the drain.
 * - `JobRecords` (job-records.ts): the job as clients see it, the tenant's index and job slots.
 * - `ProgressSubscriber` (progress-subscriber.ts): one subscriber connection per process, fanned out.
 * - The cancel bus (cancel-bus.ts) and payloads (payloads.ts): job inputs and outputs kept out of
 *   job data.
 *
 * The store and document parsing are passed in (`DocumentVersions`, `FailurePolicy`, the handlers):
 * this package depends on neither.
 */
export {
  clearCancelRequest,
  isCancelRequested,
  listenForCancels,
  publishCancel,
  requestCancel,
  type CancelMessage,
} from './cancel-bus.ts';
export {
  FINISHED_JOB_TTL_SECONDS,
  JOB_INDEX_MAX,
  JobRecords,
  LIVE_JOB_LEASE_MS,
  type JobUpdate,
  type ListJobsOptions,
  type NewJob,
} from './job-records.ts';
export { jobResult } from './job-results.ts';
export { JobWorkers, type JobWorkersOptions, type QueueProcessor } from './job-workers.ts';
export {
  JobsService,
  fairPriority,
  type CancelOutcome,
  type DocumentVersions,
  type FollowOptions,
  type JobLimits,
  type JobRefusal,
  type SubmittedJob,
  type WaitOptions,
} from './jobs-service.ts';
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
  CANCEL_REASON,
  CancelledError,
  LOCK_LOST_REASON,
  SHUTDOWN_REASON,
  createProcessor,
  recordStalledOut,
  type FailurePolicy,
  type JobContext,
  type JobHandler,
  type ProcessorDeps,
} from './processor.ts';
export { closeQueues, createQueues, type Queues } from './queues.ts';
export { ProgressReporter, type ProgressUpdate } from './progress-reporter.ts';
export { ProgressSubscriber, type ProgressListener } from './progress-subscriber.ts';
