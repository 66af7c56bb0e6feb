import { io, type Socket } from 'socket.io-client';
import {
  serverEvents,
  type CancelAck,
  type ClientToServerEvents,
  type ServerEventName,
  type ServerToClientEvents,
  type SubscribeAck,
} from '@hopper/contracts';

/** One event as the test client received it, validated against the shared schema. */
export interface Received {
  name: ServerEventName;
  payload: Record<string, unknown> & { jobId?: string; state?: string; progress?: number; ts?: number };
  /** Receive time on this machine's clock, in fractional milliseconds since the epoch. */
  at: number;
}

/** The gateway's base URL from a TestStack gateway URL (`…/mcp`). */
export function baseUrl(mcpUrl: string): string {
  return mcpUrl.replace(/\/mcp$/, '');
}

/**
 * A real `socket.io-client` connection as an application would open it (WebSocket transport, path
 * `/socket.io`), recording every server event after checking it against the shared zod schema. A
 * payload that does not match fails the test through `invalid`.
 */
export class TestSocket {
  readonly socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  readonly events: Received[] = [];
  readonly invalid: string[] = [];
  readonly #waiters = new Set<() => void>();

  private constructor(socket: Socket<ServerToClientEvents, ClientToServerEvents>) {
    this.socket = socket;
    socket.onAny((name: string, payload: unknown) => {
      const at = performance.timeOrigin + performance.now();
      const schema = serverEvents[name as ServerEventName];
      const parsed = schema?.safeParse(payload);
      if (!parsed?.success) {
        this.invalid.push(`${name}: ${JSON.stringify(payload)}`);
        return;
      }
      this.events.push({ name: name as ServerEventName, payload: parsed.data, at });
      for (const wake of [...this.#waiters]) wake();
    });
  }

  static async connect(url: string, options: { token?: string; origin?: string } = {}): Promise<TestSocket> {
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, {
      path: '/socket.io',
      transports: ['websocket'],
      reconnection: false,
      ...(options.token ? { auth: { token: options.token } } : {}),
      ...(options.origin ? { extraHeaders: { origin: options.origin } } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (error) => reject(error));
    });
    return new TestSocket(socket);
  }

  subscribe(jobId: string): Promise<SubscribeAck> {
    return this.socket.emitWithAck('subscribe', { jobId });
  }

  subscribeFeed(limit?: number): Promise<SubscribeAck> {
    return this.socket.emitWithAck('subscribe', {
      feed: 'jobs',
      ...(limit ? { limit } : {}),
    });
  }

  unsubscribe(jobId: string): Promise<SubscribeAck> {
    return this.socket.emitWithAck('unsubscribe', { jobId });
  }

  cancel(jobId: string): Promise<CancelAck> {
    return this.socket.emitWithAck('cancel', { jobId });
  }

  /** Events of one job, in arrival order. */
  jobEvents(jobId: string): Received[] {
    return this.events.filter((e) => e.name !== 'jobs' && e.payload.jobId === jobId);
  }

  /** `jobs` feed updates of one job. */
  feedEvents(jobId: string): Received[] {
    return this.events.filter(
      (e) => e.name === 'jobs' && (e.payload.job as { jobId: string }).jobId === jobId,
    );
  }

  /** Resolves with the first received event (past or future) that matches; the test's timeout bounds it. */
  async waitFor(predicate: (event: Received) => boolean): Promise<Received> {
    for (;;) {
      const found = this.events.find(predicate);
      if (found) return found;
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          resolve();
        };
        this.#waiters.add(wake);
      });
    }
  }

  /** Resolves once the job's terminal event has arrived. */
  waitForEnd(jobId: string): Promise<Received> {
    return this.waitFor(
      (e) => e.payload.jobId === jobId && ['job:completed', 'job:failed', 'job:cancelled'].includes(e.name),
    );
  }

  /**
   * A round trip through the server after everything it has sent so far: events the server emitted
   * before it answered this arrive before the answer (one connection keeps order).
   */
  async barrier(): Promise<void> {
    await this.socket.emitWithAck('unsubscribe', { jobId: 'barrier' });
  }

  close(): void {
    this.socket.close();
  }
}

const TERMINAL = new Set(['job:completed', 'job:failed', 'job:cancelled']);

/** Checks what every subscription promises: progress never decreases, and one terminal event ends it. */
export function checkSequence(events: Received[]): {
  terminal: number;
  monotonic: boolean;
  lastIsTerminal: boolean;
} {
  let monotonic = true;
  let previous = -1;
  for (const event of events) {
    if (event.name !== 'job:progress') continue;
    const progress = event.payload.progress ?? 0;
    if (progress < previous) monotonic = false;
    previous = progress;
  }
  const last = events.at(-1);
  return {
    terminal: events.filter((e) => TERMINAL.has(e.name)).length,
    monotonic,
    lastIsTerminal: last !== undefined && TERMINAL.has(last.name),
  };
}
