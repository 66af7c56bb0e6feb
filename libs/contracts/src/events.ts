import * as z from 'zod';
import { jobView, progressEvent } from './progress.ts';
import { jobId, pageSize } from './schemas.ts';
import { cancelJobOutput } from './tools.ts';

/*
 * The Socket.IO contract (path `/socket.io`, websocket transport). Event names and payload shapes
 * are API, shared by the gateway (producer), the progress page and the tests.
 *
 * A subscription to a job first delivers the job's current state, then every change, and ends with
 * exactly one terminal event (`job:completed`, `job:failed` or `job:cancelled`). Progress events
 * are throttled per job kind by the worker (see the job catalog), so payloads stay small and rare.
 */

/** `subscribe` to one job's events, or to the tenant's `jobs` feed (recent jobs and state changes). */
export const subscribeRequest = z.union(
  [
    z.strictObject({ jobId }),
    z.strictObject({
      feed: z.literal('jobs'),
      /** How many recent jobs the acknowledgement carries (default 20). */
      limit: pageSize.optional(),
    }),
  ],
  { error: "give {jobId} to follow a job, or {feed: 'jobs', limit?} for the jobs feed" },
);
export type SubscribeRequest = z.infer<typeof subscribeRequest>;

export const unsubscribeRequest = z.union(
  [z.strictObject({ jobId }), z.strictObject({ feed: z.literal('jobs') })],
  {
    error: "give {jobId} or {feed: 'jobs'}",
  },
);
export type UnsubscribeRequest = z.infer<typeof unsubscribeRequest>;

/** `cancel` a queued or running job of the socket's tenant (the same as the `cancel_job` tool). */
export const cancelRequest = z.strictObject({ jobId });
export type CancelRequest = z.infer<typeof cancelRequest>;

/**
 * Why a request was refused; `code` is one of Hopper's error codes (`not_found`, ...). A `busy`
 * refusal (a rate limit) says in whole seconds when the same request can be sent again.
 */
export const socketError = z.object({
  code: z.string(),
  message: z.string(),
  retryAfterSeconds: z.number().int().positive().optional(),
});
export type SocketError = z.infer<typeof socketError>;

const refused = z.object({ ok: z.literal(false), error: socketError });

/** The acknowledgement of `subscribe` and `unsubscribe`; a feed subscription carries the recent jobs. */
export const subscribeAck = z.union([
  z.object({ ok: z.literal(true), jobs: z.array(jobView).optional() }),
  refused,
]);
export type SubscribeAck = z.infer<typeof subscribeAck>;

/** The acknowledgement of `cancel`: the job's state once the cancel took effect (or timed out). */
export const cancelAck = z.union([z.object({ ok: z.literal(true), job: cancelJobOutput }), refused]);
export type CancelAck = z.infer<typeof cancelAck>;

/** `job:progress`: the job is queued, running, or reports progress. */
export const jobProgressEvent = progressEvent.extend({ state: z.enum(['queued', 'active', 'progress']) });
export type JobProgressEvent = z.infer<typeof jobProgressEvent>;

/** `job:completed`, with the job's result (for an ingest: documentId, version, chunks). */
export const jobCompletedEvent = progressEvent.extend({
  state: z.literal('completed'),
  result: z.record(z.string(), z.unknown()).optional(),
});
export type JobCompletedEvent = z.infer<typeof jobCompletedEvent>;

export const jobFailedEvent = progressEvent.extend({ state: z.literal('failed'), error: z.string() });
export type JobFailedEvent = z.infer<typeof jobFailedEvent>;

export const jobCancelledEvent = progressEvent.extend({ state: z.literal('cancelled') });
export type JobCancelledEvent = z.infer<typeof jobCancelledEvent>;

/** `jobs`: a job of the tenant was created or changed state (not sent for mere progress). */
export const jobsFeedEvent = z.object({ job: jobView });
export type JobsFeedEvent = z.infer<typeof jobsFeedEvent>;

/**
 * `unauthorized`: the socket's credential is no longer valid (code `invalid_token`: the token
 * expired, or the authorization server says it was revoked); the server closes the socket right
 * after. The client reconnects with a fresh token.
 */
export const unauthorizedEvent = socketError;
export type UnauthorizedEvent = z.infer<typeof unauthorizedEvent>;

/** Every event the server sends, by name: tests and clients validate payloads with these. */
export const serverEvents = {
  'job:progress': jobProgressEvent,
  'job:completed': jobCompletedEvent,
  'job:failed': jobFailedEvent,
  'job:cancelled': jobCancelledEvent,
  jobs: jobsFeedEvent,
  unauthorized: unauthorizedEvent,
} as const;
export type ServerEventName = keyof typeof serverEvents;

/** Socket.IO's typed events, client to server (each with an acknowledgement). */
export interface ClientToServerEvents {
  subscribe(request: SubscribeRequest, ack: (answer: SubscribeAck) => void): void;
  unsubscribe(request: UnsubscribeRequest, ack: (answer: SubscribeAck) => void): void;
  cancel(request: CancelRequest, ack: (answer: CancelAck) => void): void;
}

/** Socket.IO's typed events, server to client. */
export interface ServerToClientEvents {
  'job:progress'(event: JobProgressEvent): void;
  'job:completed'(event: JobCompletedEvent): void;
  'job:failed'(event: JobFailedEvent): void;
  'job:cancelled'(event: JobCancelledEvent): void;
  jobs(event: JobsFeedEvent): void;
  unauthorized(event: UnauthorizedEvent): void;
}
