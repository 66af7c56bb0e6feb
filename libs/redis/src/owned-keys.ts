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

/**
 * Runs `build` once across processes: unless `complete` is set (then `complete`), or another
 * process holds `lock` (then `busy`), takes the lock for `lockMs`, runs `build` (which calls
 * `renew` to keep the lock while it works), sets `complete` and releases the lock. What the
 * listing and the record copies are filled in from the store with.
 */
export async function buildOnce(
  redis: Redis,
  keys: { complete: string; lock: string },
  options: { owner: string; lockMs: number },
  build: (renew: () => Promise<void>) => Promise<void>,
): Promise<'built' | 'complete' | 'busy'> {
  if ((await redis.exists(keys.complete)) === 1) return 'complete';
  const taken = await redis.set(keys.lock, options.owner, 'PX', options.lockMs, 'NX');
  if (taken !== 'OK') return 'busy';
  try {
    await build(async () => {
      await redis.pexpire(keys.lock, options.lockMs);
    });
    await redis.set(keys.complete, new Date().toISOString());
    return 'built';
  } finally {
    await releaseOwned(redis, [keys.lock], options.owner);
  }
}
