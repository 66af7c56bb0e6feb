import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A Lua script, sent by its digest (its text goes out only when Redis has not seen it). */
export interface Script {
  text: string;
  digest: string;
}

export function script(text: string): Script {
  return { text, digest: createHash('sha1').update(text).digest('hex') };
}

/**
 * Runs a script by its digest, and by its text when this Redis has not seen it (after a restart,
 * or the first time). Not a defined command, as the project's other scripts are: any client may be
 * handed in, so it would be defined on first use, and ioredis's auto-pipelining then fails the
 * NOSCRIPT fallback of a burst of first calls with a TypeError that took the gateway down
 * (test/e2e/writers.test.ts).
 */
export async function runScript(
  redis: Redis,
  { text, digest }: Script,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  try {
    return await redis.evalsha(digest, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return await redis.eval(text, keys.length, ...keys, ...args);
  }
}
