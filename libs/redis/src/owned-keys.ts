import type { Redis } from 'ioredis';
import { runScript, script } from './scripts.ts';

/** Deletes each key still holding ARGV[1]; a key that expired and was taken by another stays. */
const RELEASE = script(`
for _, key in ipairs(KEYS) do
  if redis.call('get', key) == ARGV[1] then redis.call('del', key) end
end
return 0`);

/**
 * Releases locks and claims taken with `SET key owner NX PX ttl`: each key is deleted only while it
 * still holds `owner`, in one step, so a holder whose key expired never frees another's.
 */
export async function releaseOwned(redis: Redis, keys: readonly string[], owner: string): Promise<void> {
  if (keys.length === 0) return;
  await runScript(redis, RELEASE, keys, [owner]);
}
