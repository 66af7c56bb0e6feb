import type { ServerResponse } from 'node:http';

/** Why a request was turned away. */
export type ShedReason = 'inflight' | 'event_loop_lag';

/** Which API a request is for: the refusal is written in that API's error format. */
export type ShedApi = 'mcp' | 'rest';

/** What a shed caller is told to wait: overload passes in moments or not at all (then scale out). */
const RETRY_AFTER_S = 1;

/**
 * Lag counts only while at least this many requests are in progress. With fewer, the lag comes from
 * elsewhere (start-up, a long garbage collection, a busy neighbour on the machine), and turning
 * requests away would not lower it; load that makes latency climb without bound piles up requests.
 */
const MIN_INFLIGHT_FOR_LAG = 10;

/** How often the event loop is sampled, and how much one sample moves the smoothed lag. */
const SAMPLE_INTERVAL_MS = 50;
const SAMPLE_WEIGHT = 0.2;

/**
 * Event-loop lag measured as timer drift: a timer due every 50 ms fires late by however long the
 * loop was busy with other callbacks. The figure is smoothed (exponentially weighted over roughly
 * the last half second), so one garbage-collection pause does not count as overload but a loop that
 * stays busy does.
 */
export class EventLoopLag {
  #smoothedMs = 0;
  readonly #timer: NodeJS.Timeout;

  constructor() {
    let due = performance.now() + SAMPLE_INTERVAL_MS;
    this.#timer = setInterval(() => {
      const now = performance.now();
      const drift = Math.max(0, now - due);
      due = now + SAMPLE_INTERVAL_MS;
      this.#smoothedMs += (drift - this.#smoothedMs) * SAMPLE_WEIGHT;
    }, SAMPLE_INTERVAL_MS);
    // Sampling must never keep a process alive that is otherwise done.
    this.#timer.unref();
  }

  get ms(): number {
    return this.#smoothedMs;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

export interface LoadShedderOptions {
  /** Requests served at once beyond which new ones are refused (0: no cap). */
  maxInflight: number;
  /** Smoothed event-loop lag from which new requests start being refused (0: lag is not watched). */
  maxEventLoopLagMs: number;
  /** Told of every refusal (a metric). */
  onShed: (reason: ShedReason) => void;
}

/**
 * Keeps a gateway responsive under overload: rather than let every caller's latency climb without
 * bound, it answers new MCP requests and REST calls at once with 503, `Retry-After` and a message
 * saying so. Two signals: the number of requests being served (each holds memory and, for waiting
 * calls, a progress stream), and event-loop lag while requests pile up (the process has more work
 * than CPU). Past the lag threshold a growing share of requests is refused (all of them at twice
 * the threshold), so the gateway sheds just enough load to recover instead of flapping between
 * serving all and none.
 * Health, readiness and metrics are never shed: an overloaded gateway is alive, and saying
 * otherwise would make an orchestrator restart or unroute every replica at once.
 */
export class LoadShedder {
  readonly #options: LoadShedderOptions;
  readonly #lag: EventLoopLag | undefined;
  #inflight = 0;

  constructor(options: LoadShedderOptions) {
    this.#options = options;
    this.#lag = options.maxEventLoopLagMs > 0 ? new EventLoopLag() : undefined;
  }

  get inflight(): number {
    return this.#inflight;
  }

  /**
   * Admits a request (counting it until its response closes) and returns true, or answers it with
   * 503 and returns false. `jsonRpcId`: an MCP request's id, echoed in the JSON-RPC error.
   */
  admit(res: ServerResponse, api: ShedApi, jsonRpcId: unknown = null): boolean {
    const reason = this.#overloaded();
    if (reason) {
      this.#options.onShed(reason);
      const why =
        reason === 'inflight'
          ? `at its limit of ${this.#options.maxInflight} requests in progress`
          : 'the server is overloaded';
      refuse(res, api === 'rest' ? restRefusal(why) : mcpRefusal(why, jsonRpcId));
      return false;
    }
    this.#inflight += 1;
    res.once('close', () => (this.#inflight -= 1));
    return true;
  }

  close(): void {
    this.#lag?.stop();
  }

  #overloaded(): ShedReason | undefined {
    const { maxInflight, maxEventLoopLagMs } = this.#options;
    if (maxInflight > 0 && this.#inflight >= maxInflight) return 'inflight';
    if (this.#lag && this.#inflight >= MIN_INFLIGHT_FOR_LAG) {
      const excess = (this.#lag.ms - maxEventLoopLagMs) / maxEventLoopLagMs;
      if (excess > 0 && Math.random() < excess) return 'event_loop_lag';
    }
    return undefined;
  }
}

/** The refusal's text, the same in both APIs. */
function busyMessage(why: string): string {
  return `Hopper is busy (${why}); retry after ${RETRY_AFTER_S} s`;
}

function restRefusal(why: string) {
  return { error: { code: 'busy', message: busyMessage(why) } };
}

/**
 * A JSON-RPC error: the SDK clients of both eras put a non-2xx response's body into the error they
 * throw, so the message reaches the user.
 */
function mcpRefusal(why: string, id: unknown) {
  const validId = typeof id === 'string' || typeof id === 'number' ? id : null;
  return {
    jsonrpc: '2.0',
    id: validId,
    error: {
      code: -32000,
      message: busyMessage(why),
      data: { code: 'busy', retryAfterSeconds: RETRY_AFTER_S },
    },
  };
}

/** 503 with `Retry-After`, in the API's own error format. */
function refuse(res: ServerResponse, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(503, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'retry-after': String(RETRY_AFTER_S),
    'cache-control': 'no-store',
  });
  res.end(text);
}
