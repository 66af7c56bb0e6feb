import { busy } from '@hopper/contracts';
import type { Logger } from '@hopper/lifecycle';
import type { Metrics } from '@hopper/telemetry';
import type { RateSettings } from '../limits-config.ts';
import { socketErrorOf, type RealtimeSocket } from './socket-types.ts';

/**
 * A token bucket in memory, for a limit one process enforces alone (one socket lives on one gateway,
 * so its events need no shared state). It runs on the monotonic clock: a wall-clock jump must not
 * fill or empty it.
 */
export class LocalTokenBucket {
  readonly #perMs: number;
  readonly #capacity: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(rate: RateSettings, now: () => number = () => performance.now()) {
    if (!(rate.perSecond > 0) || !(rate.burst >= 1)) {
      throw new RangeError('a token bucket needs a positive rate and a burst of at least 1');
    }
    this.#perMs = rate.perSecond / 1000;
    this.#capacity = rate.burst;
    this.#now = now;
    this.#tokens = rate.burst;
    this.#at = now();
  }

  /** Takes a token: 0 when taken, otherwise the milliseconds until one is available (nothing taken). */
  take(): number {
    const now = this.#now();
    this.#tokens = Math.min(this.#capacity, this.#tokens + (now - this.#at) * this.#perMs);
    this.#at = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.#tokens) / this.#perMs);
  }
}

/**
 * How many bursts' worth of refused events a socket may collect before it is disconnected. Refusals
 * are forgiven at the socket's own rate: a client that keeps sending at up to twice the rate loses
 * half its events but stays connected (a refusal costs the gateway no Redis work), while one that
 * ignores every refusal is cut off within seconds (400 refusals at the default burst of 40; at 200
 * events per second against 20 allowed, 2.5 s).
 */
const FLOOD_BURSTS = 10;

export interface SocketRateLimitOptions {
  rate: RateSettings;
  logger: Logger;
  metrics: Pick<Metrics, 'limitRefusals' | 'floodedSockets'>;
}

/**
 * Limits the events one socket may send, whatever their name: over the rate an event is answered
 * `busy` (with when to retry) and not run, before it can cost Redis anything. A socket that keeps
 * flooding after being refused is disconnected, logged once and counted.
 *
 * Runs as the socket's first middleware, synchronously, so events are counted in arrival order.
 */
export function limitSocketEvents(socket: RealtimeSocket, options: SocketRateLimitOptions): void {
  const { rate, logger, metrics } = options;
  const events = new LocalTokenBucket(rate);
  const patience = new LocalTokenBucket({ perSecond: rate.perSecond, burst: rate.burst * FLOOD_BURSTS });
  const policy = `${rate.perSecond} events per second, bursts of ${rate.burst}`;
  let flooded = false;

  socket.use((packet, next) => {
    // Events already received when the socket was cut off are neither run nor answered.
    if (flooded) return;
    const waitMs = events.take();
    if (waitMs === 0) {
      next();
      return;
    }
    metrics.limitRefusals.inc({ limit: 'socket_rate' });
    if (patience.take() > 0) {
      flooded = true;
      metrics.floodedSockets.inc();
      logger.warn(
        { socket: socket.id, tenant: socket.data.tenant, policy },
        'socket kept sending events long after being refused; disconnected',
      );
      socket.disconnect(true);
      return;
    }
    const ack: unknown = packet.at(-1);
    if (typeof ack === 'function') {
      const refusal = busy(`too many events on this socket (${policy})`, waitMs / 1000);
      (ack as (answer: unknown) => void)({ ok: false, error: socketErrorOf(refusal) });
    }
  });
}
