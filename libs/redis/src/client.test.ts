import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from './redis-server.ts';
import { closeRedis, createRedis, isRedisUnavailable } from './client.ts';

let publisher: Redis;

beforeAll(() => {
  publisher = new Redis(inject('redisUrl'));
});

afterAll(() => {
  publisher.disconnect();
});

describe('createRedis subscriber connections', () => {
  it('keep a subscription made while the connection is still in its handshake', async () => {
    // The gateway subscribes as soon as it starts, often while ioredis is still connecting. With
    // ioredis' default handshake that races its ready check (redis/ioredis#2037): the connection
    // fails, and the subscription silently goes with it. Try it a number of times.
    const errors: Error[] = [];
    for (let attempt = 0; attempt < 20; attempt++) {
      const channel = `client-test-${attempt}`;
      const subscriber = createRedis(inject('redisUrl'), {
        name: 'test',
        role: 'subscriber',
        onError: (error) => errors.push(error),
      });
      await once(subscriber, 'connect');
      await subscriber.subscribe(channel);
      const received = once(subscriber, 'message');
      await publisher.publish(channel, 'hello');
      const [from, message] = (await received) as [string, string];
      expect([from, message]).toEqual([channel, 'hello']);
      await closeRedis(subscriber);
    }
    expect(errors).toEqual([]);
  });
});

describe('isRedisUnavailable', () => {
  it('tells a command that could not reach Redis from one Redis refused', async () => {
    // Nothing listens on this port: the command connection gives up after its retries.
    const nowhere = createRedis(`redis://127.0.0.1:${await freePort()}`, {
      name: 'test',
      role: 'command',
      onError: () => undefined,
    });
    const unreachable: unknown = await nowhere.get('key').catch((error: unknown) => error);
    nowhere.disconnect();
    expect(isRedisUnavailable(unreachable)).toBe(true);

    await publisher.set('client-test-string', 'x');
    const refused: unknown = await publisher
      .lpush('client-test-string', 'y')
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(Error);
    expect(isRedisUnavailable(refused)).toBe(false);
    await publisher.del('client-test-string');
  });
});
