import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Epochs } from './epochs.ts';
import { useTestRedis } from '../../../test/support/test-redis.ts';

const { keys, redis } = useTestRedis();

const epochsOn = (client: Redis) => new Epochs({ redis: client, keys, timeoutMs: 1_000 });

describe('Epochs', () => {
  it('answers the reads of one turn together, each with its own collection', async () => {
    const epochs = epochsOn(redis());
    await epochs.bump('acme', 'zoo');
    await epochs.bump('acme', 'zoo');
    await epochs.bump('globex', 'zoo');
    const read = await Promise.all([
      epochs.current('acme', 'zoo'),
      epochs.current('acme', 'garden'),
      epochs.current('globex', 'zoo'),
      epochs.current('acme', 'zoo'),
      epochs.current('acme', '*'),
    ]);
    expect(read).toEqual([2, 0, 1, 2, 2]);
  });

  it('never answers a read with a batch sent before the read was asked for', async () => {
    const epochs = epochsOn(redis());
    const writer = epochsOn(redis());
    const before = epochs.current('acme', 'aviary');
    // The first read's batch goes out; the write finishes; a read asked for now must see it.
    await new Promise((resolve) => setImmediate(resolve));
    await writer.bump('acme', 'aviary');
    const after = epochs.current('acme', 'aviary');
    expect(await before).toBe(0);
    expect(await after).toBe(1);
  });

  it('answers undefined when Redis cannot be reached, so the cache is not used', async () => {
    const down = new Redis({
      port: 1,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    try {
      const epochs = new Epochs({ redis: down, keys, timeoutMs: 200 });
      expect(await Promise.all([epochs.current('acme', 'zoo'), epochs.current('acme', 'pond')])).toEqual([
        undefined,
        undefined,
      ]);
    } finally {
      down.disconnect();
    }
  });
});
