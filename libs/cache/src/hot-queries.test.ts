import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { HotQueries } from './hot-queries.ts';
import { useTestRedis } from '../../../test/support/test-redis.ts';

const { keys, redis: connection } = useTestRedis();

const recordTimes = (hot: HotQueries, collection: string, query: string, times: number) => {
  for (let i = 0; i < times; i++) hot.record('acme', collection, query);
};

describe('HotQueries', () => {
  it('ranks queries by how often they ran, counting what is still in memory', async () => {
    const hot = new HotQueries(connection(), keys);
    recordTimes(hot, 'papers', 'rare', 1);
    recordTimes(hot, 'papers', 'popular', 5);
    recordTimes(hot, 'papers', 'middling', 3);
    recordTimes(hot, 'papers', 'twice', 2);
    recordTimes(hot, 'notes', 'elsewhere', 9);

    expect(await hot.top('acme', 'papers', 2)).toEqual(['popular', 'middling']);
    // A query asked once is not hot, however few the others are.
    expect(await hot.top('acme', 'papers', 10)).toEqual(['popular', 'middling', 'twice']);
    expect(await hot.collections()).toEqual(
      expect.arrayContaining([
        { tenant: 'acme', collection: 'papers' },
        { tenant: 'acme', collection: 'notes' },
      ]),
    );
  });

  it('sends its counts to Redis by itself within seconds, for the other gateways to read', async () => {
    const hot = new HotQueries(connection(), keys);
    const otherGateway = new HotQueries(connection(), keys);
    recordTimes(hot, 'shared', 'asked here', 2);
    expect(await otherGateway.top('acme', 'shared', 5)).toEqual([]);
    await sleep(1_500);
    expect(await otherGateway.top('acme', 'shared', 5)).toEqual(['asked here']);
  });

  it('adds counts from several processes together', async () => {
    const one = new HotQueries(connection(), keys);
    const two = new HotQueries(connection(), keys);
    recordTimes(one, 'summed', 'a', 3);
    recordTimes(two, 'summed', 'b', 2);
    recordTimes(two, 'summed', 'a', 1);
    await Promise.all([one.flush(), two.flush()]);
    expect(await connection().zscore(keys.hotQueries('acme', 'summed'), 'a')).toBe('4');
    expect(await connection().zscore(keys.hotQueries('acme', 'summed'), 'b')).toBe('2');
  });
});
