import type { Server, Socket } from 'socket.io';
import type {
  ClientToServerEvents,
  HopperError,
  JobCancelledEvent,
  JobCompletedEvent,
  JobFailedEvent,
  JobProgressEvent,
  Scope,
  ServerToClientEvents,
  SocketError,
} from '@hopper/contracts';

/** What the gateway keeps on each socket. */
export interface SocketData {
  /** Resolved once, at the handshake; every request on the socket acts for this tenant. */
  tenant: string;
  /** What the handshake's credential allows: `read` to follow jobs, `write` to cancel them. */
  scopes: readonly Scope[];
  /** Keys of the jobs this socket follows (see JobSubscriptions). */
  jobs: Set<string>;
  /** Whether the socket follows its tenant's `jobs` feed. */
  feed: boolean;
}

type NoEvents = Record<string, never>;
export type RealtimeServer = Server<ClientToServerEvents, ServerToClientEvents, NoEvents, SocketData>;
export type RealtimeSocket = Socket<ClientToServerEvents, ServerToClientEvents, NoEvents, SocketData>;

/** One job event as it goes out, name and payload together. */
export type JobEventOut =
  | { name: 'job:progress'; payload: JobProgressEvent }
  | { name: 'job:completed'; payload: JobCompletedEvent }
  | { name: 'job:failed'; payload: JobFailedEvent }
  | { name: 'job:cancelled'; payload: JobCancelledEvent };

/** Anything that can emit server events: a socket, or a room of them. */
interface Emitter {
  emit<E extends keyof ServerToClientEvents>(event: E, ...args: Parameters<ServerToClientEvents[E]>): boolean;
}

export function sendJobEvent(target: Emitter, out: JobEventOut): void {
  switch (out.name) {
    case 'job:progress':
      target.emit(out.name, out.payload);
      break;
    case 'job:completed':
      target.emit(out.name, out.payload);
      break;
    case 'job:failed':
      target.emit(out.name, out.payload);
      break;
    case 'job:cancelled':
      target.emit(out.name, out.payload);
      break;
  }
}

/** A refusal as a socket acknowledgement carries it: code, message, and when to retry if waiting helps. */
export function socketErrorOf(error: HopperError): SocketError {
  return {
    code: error.code,
    message: error.message,
    ...(error.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.retryAfterSeconds }),
  };
}
