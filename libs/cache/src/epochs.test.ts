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

  it('shares concurrent bumps of a collection: a bump asked for meanwhile runs after the one in flight', async () => {
    const epochs = epochsOn(redis());
    const first = epochs.bump('initech', 'shelf');
    // Asked for after the first was sent (their writes may have finished after it ran): they
    // must not be answered by it, and share the next one.
    const rest = Array.from({ length: 49 }, () => epochs.bump('initech', 'shelf'));
    expect(await first).toBe(1);
    expect(new Set(await Promise.all(rest))).toEqual(new Set([2]));
    expect(await epochs.current('initech', 'shelf')).toBe(2);
    // Another collection's bump is its own; a later bump is sent afresh.
    expect(await epochs.bump('initech', 'desk')).toBe(1);
    expect(await epochs.bump('initech', 'shelf')).toBe(3);
    expect(await epochs.current('initech', '*')).toBe(4);
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
