import type { Redis } from 'ioredis';
import * as z from 'zod';
import type { Keys } from '@hopper/contracts';

const cancelMessage = z.object({ tenant: z.string(), jobId: z.string() });
export type CancelMessage = z.infer<typeof cancelMessage>;

/** How long a cancel request stands: longer than any job waits in a queue or runs. */
const CANCEL_FLAG_TTL_SECONDS = 24 * 60 * 60;

/**
 * Flags a job as cancelled. The flag is what a worker checks at the job's start and at every batch
 * boundary; the broadcast (`publishCancel`) only makes a running job notice sooner.
 */
export async function requestCancel(redis: Redis, keys: Keys, tenant: string, jobId: string): Promise<void> {
  await redis.set(keys.cancelFlag(tenant, jobId), '1', 'EX', CANCEL_FLAG_TTL_SECONDS);
}

export async function isCancelRequested(
  redis: Redis,
  keys: Keys,
  tenant: string,
  jobId: string,
): Promise<boolean> {
  return (await redis.exists(keys.cancelFlag(tenant, jobId))) === 1;
}

/** Drops a job's cancel flag: the cancel was carried out, or the job id is submitted afresh. */
export async function clearCancelRequest(
  redis: Redis,
  keys: Keys,
  tenant: string,
  jobId: string,
): Promise<void> {
  await redis.del(keys.cancelFlag(tenant, jobId));
}

/**
 * Broadcasts that a job must stop. BullMQ can abort a job only inside the worker process that holds
 * it, and nobody else knows which process that is, so every worker hears every cancel and the one
 * holding the job aborts it. The cancel flag (set first) covers a worker that picks the job up later.
 */
export async function publishCancel(redis: Redis, keys: Keys, message: CancelMessage): Promise<void> {
  await redis.publish(keys.cancelChannel, JSON.stringify(message));
}

/** Listens for cancels on a dedicated subscriber connection. */
export async function listenForCancels(
  subscriber: Redis,
  keys: Keys,
  onCancel: (message: CancelMessage) => void,
): Promise<void> {
  subscriber.on('message', (channel: string, raw: string) => {
    if (channel !== keys.cancelChannel) return;
    try {
      const message = cancelMessage.safeParse(JSON.parse(raw));
      if (message.success) onCancel(message.data);
    } catch {
      // A malformed broadcast is not ours to act on.
    }
  });
  await subscriber.subscribe(keys.cancelChannel);
}
