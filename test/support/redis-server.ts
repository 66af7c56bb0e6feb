import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedisServer as start, type RedisServer } from '@hopper/redis';

export type RedisServerHandle = RedisServer;

/** A throwaway redis-server (no persistence) in a temp dir that is removed when it stops. */
export async function startRedisServer(): Promise<RedisServerHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'hopper-test-redis-'));
  const server = await start({ dir, appendOnly: false });
  return {
    ...server,
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
