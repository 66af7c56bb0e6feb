import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { jobCatalog, jobKinds, type JobKind, type Keys } from '@hopper/contracts';

/** One BullMQ queue per job kind, the producer's side. */
export type Queues = Record<JobKind, Queue>;

/**
 * Opens the queue of every job kind, named by the job catalog under the prefix's BullMQ namespace.
 * `connection` is BullMQ's own (role `bullmq`); `onError` hears connection errors, which BullMQ
 * otherwise reports as unhandled.
 */
export function createQueues(
  connection: Redis,
  keys: Keys,
  onError: (error: Error, queue: string) => void = () => undefined,
): Queues {
  return Object.fromEntries(
    jobKinds.map((kind) => {
      const queue = new Queue(jobCatalog[kind].queue, { connection, prefix: keys.bullPrefix });
      queue.on('error', (error) => onError(error, queue.name));
      return [kind, queue];
    }),
  ) as Queues;
}

/** Closes every queue of `createQueues`. */
export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((queue) => queue.close()));
}
