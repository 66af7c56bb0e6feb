import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { closeRedis, createRedis } from './client.ts';

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
