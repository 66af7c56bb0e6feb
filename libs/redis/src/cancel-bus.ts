import type { Redis } from 'ioredis';
import * as z from 'zod';
import type { Keys } from '@hopper/contracts';

const cancelMessage = z.object({ tenant: z.string(), jobId: z.string() });
export type CancelMessage = z.infer<typeof cancelMessage>;

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
