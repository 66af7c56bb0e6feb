import fc from 'fast-check';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cancelAck, subscribeAck } from '@hopper/contracts';
import { edgeNumber, junk, nastyString } from './support/arbitraries.ts';
import { fuzz, startFuzzStack, type FuzzStack } from './support/fuzz-stack.ts';

/*
 * Socket.IO requests with arbitrary payloads. Every acknowledged request gets an acknowledgement
 * that matches the shared schema (`{ok: true, ...}` or `{ok: false, error: {code, message}}`) and
 * never an internal error; no payload breaks the connection for the requests after it.
 */

const RUNS = 150;

let fx: FuzzStack;
let socket: Socket;

beforeAll(async () => {
  // The fuzz sends its requests back to back, hundreds a second from one socket, far past the
  // per-socket limit (20 a second): at the default, most would be answered `busy` without reaching
  // the handlers under test, and the unacknowledged-emits case would fail on a refused barrier. The
  // limit stays on, only out of reach, so every generated packet still passes through its middleware.
  fx = await startFuzzStack(inject('redisUrl'), { HOPPER_SOCKET_RATE_LIMIT_PER_SECOND: '100000' });
  socket = await connect();
});

afterAll(async () => {
  socket?.close();
  await fx?.stack.stop();
});

function connect(): Promise<Socket> {
  const client = io(fx.stack.url.replace(/\/mcp$/, ''), {
    path: '/socket.io',
    transports: ['websocket'],
    reconnection: false,
  });
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('connect_error', reject);
  });
}

const ACK_TIMEOUT_MS = 10_000;

/** A payload for a request: right-shaped with wrong values, or anything at all. */
function payload(jobIds: string[]): fc.Arbitrary<unknown> {
  const jobId = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...jobIds) },
    nastyString,
    fc.string({ minLength: 129, maxLength: 200 }),
    edgeNumber,
    junk,
  );
  return fc.oneof(
    { weight: 8, arbitrary: fc.record({ jobId }) },
    fc.record(
      { feed: fc.oneof(fc.constant('jobs'), nastyString), limit: fc.oneof(edgeNumber, junk) },
      { requiredKeys: ['feed'] },
    ),
    fc.record({ jobId, feed: fc.constant('jobs') }),
    fc.dictionary(fc.constantFrom('jobId', 'feed', 'limit', '__proto__', 'constructor'), junk, {
      maxKeys: 3,
    }),
    junk,
    fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
  );
}

describe('Socket.IO requests with generated payloads', () => {
  it('acknowledges subscribe, unsubscribe and cancel with a schema-valid answer, never an internal error', async () => {
    const requests = fc.tuple(fc.constantFrom('subscribe', 'unsubscribe', 'cancel'), payload(fx.ids.jobIds));
    await fuzz(
      'socket.io requests',
      requests,
      async ([event, body]) => {
        const ack: unknown = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, body);
        const parsed = (event === 'cancel' ? cancelAck : subscribeAck).safeParse(ack);
        expect(parsed.success, `${event} ${JSON.stringify(body)} -> ${JSON.stringify(ack)}`).toBe(true);
        const answer = parsed.data as { ok: boolean; error?: { code: string } };
        expect(answer.error?.code, JSON.stringify(ack)).not.toBe('internal');
        return `${event} ${answer.ok ? 'ok' : answer.error?.code}`;
      },
      RUNS,
    );
    expect(socket.connected).toBe(true);
    await fx.expectHealthy();
  });

  it('survives requests without an acknowledgement, extra arguments and unknown events', async () => {
    const emits = fc.tuple(
      fc.oneof(
        fc.constantFrom('subscribe', 'unsubscribe', 'cancel'),
        nastyString,
        fc.constantFrom('connect', 'disconnect', 'error', 'message'),
      ),
      fc.array(fc.oneof(junk, payload(fx.ids.jobIds)), { maxLength: 3 }),
    );
    await fuzz(
      'socket.io unacknowledged emits',
      emits,
      async ([event, args]) => {
        // Reserved names cannot be emitted by a client library: that is the library's refusal, not the server's.
        try {
          socket.emit(event, ...args);
        } catch {
          return 'refused by the client library';
        }
        // The next acknowledged request is still answered: the connection and the server are fine.
        const ack: unknown = await socket
          .timeout(ACK_TIMEOUT_MS)
          .emitWithAck('unsubscribe', { jobId: 'barrier' });
        expect(ack).toEqual({ ok: true });
        return 'still answering';
      },
      RUNS,
    );
    expect(socket.connected).toBe(true);
    await fx.expectHealthy();
  });

  it('drops a connection that sends an oversized frame, and serves new ones', async () => {
    const sizes = fc.constantFrom(16 * 1024 + 1, 100_000, 1_000_000);
    await fuzz(
      'socket.io oversized frames',
      sizes,
      async (size) => {
        const victim = await connect();
        const closed = new Promise<string>((resolve) =>
          victim.once('disconnect', (reason) => resolve(reason)),
        );
        victim.emit('subscribe', { jobId: 'x'.repeat(size) });
        const reason = await closed;
        const fresh = await connect();
        const ack: unknown = await fresh
          .timeout(ACK_TIMEOUT_MS)
          .emitWithAck('unsubscribe', { jobId: 'barrier' });
        fresh.close();
        expect(ack).toEqual({ ok: true });
        return `closed (${reason})`;
      },
      6,
    );
    await fx.expectHealthy();
  });
});
