import type { Redis } from 'ioredis';

/** Deletes each key still holding ARGV[1]; a key that expired and was taken by another stays. */
const RELEASE_SCRIPT = `
for _, key in ipairs(KEYS) do
  if redis.call('get', key) == ARGV[1] then redis.call('del', key) end
end
return 0`;

type WithRelease = Redis & { hopperReleaseOwned(numKeys: number, ...args: string[]): Promise<number> };

/**
 * Releases locks and claims taken with `SET key owner NX PX ttl`: each key is deleted only while it
 * still holds `owner`, in one step, so a holder whose key expired never frees another's.
 */
export async function releaseOwned(redis: Redis, keys: readonly string[], owner: string): Promise<void> {
  if (keys.length === 0) return;
  // A defined command, as the project's other scripts: sent by its digest, the text only when
  // this Redis has not seen it. Defined on first use, since any client may be handed in.
  if (!('hopperReleaseOwned' in redis)) redis.defineCommand('hopperReleaseOwned', { lua: RELEASE_SCRIPT });
  await (redis as WithRelease).hopperReleaseOwned(keys.length, ...keys, owner);
}
