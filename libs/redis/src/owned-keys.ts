import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** Deletes each key still holding ARGV[1]; a key that expired and was taken by another stays. */
const RELEASE_SCRIPT = `
for _, key in ipairs(KEYS) do
  if redis.call('get', key) == ARGV[1] then redis.call('del', key) end
end
return 0`;
const RELEASE_DIGEST = createHash('sha1').update(RELEASE_SCRIPT).digest('hex');

/**
 * Releases locks and claims taken with `SET key owner NX PX ttl`: each key is deleted only while it
 * still holds `owner`, in one step, so a holder whose key expired never frees another's.
 */
export async function releaseOwned(redis: Redis, keys: readonly string[], owner: string): Promise<void> {
  if (keys.length === 0) return;
  // By its digest: the script's text goes out only when this Redis has not seen it (after a
  // restart, or the first time). Not a defined command, as the project's other scripts are: any
  // client may be handed in, so it would be defined on first use, and ioredis's auto-pipelining
  // then fails the NOSCRIPT fallback of a burst of first calls with a TypeError that took the
  // gateway down (test/e2e/writers.test.ts).
  try {
    await redis.evalsha(RELEASE_DIGEST, keys.length, ...keys, owner);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    await redis.eval(RELEASE_SCRIPT, keys.length, ...keys, owner);
  }
}
