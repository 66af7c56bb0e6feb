import { randomUUID } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import type { Redis } from 'ioredis';
import { Server } from 'socket.io';
import * as z from 'zod';
import {
  cancelRequest,
  isHopperError,
  limits,
  subscribeRequest,
  unsubscribeRequest,
  type CancelAck,
  type JobView,
  type Keys,
  type Scope,
  type SocketError,
  type SubscribeAck,
} from '@hopper/contracts';
import type { Logger } from '@hopper/lifecycle';
import type { JobRecords, ProgressSubscriber } from '@hopper/jobs';
import type { Metrics } from '@hopper/telemetry';
import { browserGuard, type AllowedHosts } from '../browser-guard.ts';
import type { RateSettings } from '../limits-config.ts';
import type { ChargeTenant } from '../tenant-rate-limit.ts';
import { UnauthorizedError, type TenantRequest, type TenantResolver } from '../tenant-resolver.ts';
import { JobSubscriptions, MAX_JOBS_PER_SOCKET } from './job-subscriptions.ts';
import { JobsFeed } from './jobs-feed.ts';
import { limitSocketEvents } from './socket-rate-limit.ts';
import { socketErrorOf, type RealtimeServer, type RealtimeSocket } from './socket-types.ts';

/** setTimeout's limit; a token valid for longer is re-checked when the client reconnects after it. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface RealtimeDeps {
  /** The process's one Redis subscriber connection (shared with the ProgressSubscriber). */
  subscriber: Redis;
  records: JobRecords;
  progress: ProgressSubscriber;
  keys: Keys;
  /** Cancels a job from any replica (JobsService.cancel). */
  cancel: (tenant: string, jobId: string) => Promise<JobView>;
  resolveTenant: TenantResolver;
  allowedHosts: AllowedHosts;
  /** Events one socket may send (any name); `undefined`: not limited per socket. */
  eventLimit: RateSettings | undefined;
  /** The tenant's rate limit, shared with tool calls; `undefined` when it is off. */
  chargeTenant: ChargeTenant | undefined;
  metrics: Pick<Metrics, 'limitRefusals' | 'floodedSockets'>;
  logger: Logger;
}

export interface Realtime {
  readonly io: RealtimeServer;
  /** Jobs this process watches for its sockets (for tests of the reference counting and metrics). */
  readonly watchedJobs: number;
  close(): Promise<void>;
}

/**
 * Socket.IO on the gateway's HTTP server: path `/socket.io`, WebSocket transport only (one
 * connection per client, so no sticky sessions are needed behind a load balancer). Each gateway
 * process serves its own sockets from its own Redis subscription: an event published by any worker
 * reaches every replica, so a client sees the same jobs whichever replica it is connected to.
 */
export function attachRealtime(server: HttpServer, deps: RealtimeDeps): Realtime {
  const { logger } = deps;
  const io: RealtimeServer = new Server(server, {
    path: '/socket.io',
    transports: ['websocket'],
    serveClient: false,
    // Client requests are a job id or two; a large frame is a broken or hostile client.
    maxHttpBufferSize: 16 * 1024,
    allowRequest: (req, callback) => {
      const refusal = browserGuard(req.headers, deps.allowedHosts);
      callback(refusal ?? null, refusal === undefined);
    },
  });
  const subscriptions = new JobSubscriptions({ io, progress: deps.progress, records: deps.records, logger });
  const feed = new JobsFeed({
    io,
    subscriber: deps.subscriber,
    records: deps.records,
    keys: deps.keys,
    logger,
  });

  // Handshake auth: the same tenant resolution as HTTP. A browser passes its credential as
  // `auth.token` (it cannot set headers on a WebSocket); other clients may use Authorization.
  io.use((socket, next) => {
    const auth = socket.handshake.auth as Record<string, unknown>;
    const request: TenantRequest = {
      headers: socket.request.headers,
      remoteAddress: socket.request.socket.remoteAddress,
      ...(typeof auth.token === 'string' ? { token: auth.token } : {}),
    };
    deps
      .resolveTenant(request)
      .then((caller) => {
        socket.data = { tenant: caller.tenant, scopes: caller.scopes, jobs: new Set(), feed: false };
        if (caller.expiresAt) disconnectAtExpiry(socket, caller.expiresAt);
        if (caller.recheckAfterSeconds) {
          recheckWhileConnected(socket, request, caller.recheckAfterSeconds, deps);
        }
        next();
      })
      .catch((error: unknown) => {
        if (error instanceof UnauthorizedError || isHopperError(error)) {
          next(new Error(error.message));
        } else {
          logger.error({ err: error }, 'tenant resolution failed');
          next(new Error('unauthorized'));
        }
      });
  });

  io.on('connection', (socket: RealtimeSocket) => {
    logger.debug({ socket: socket.id, tenant: socket.data.tenant }, 'socket connected');
    if (deps.eventLimit) limitSocketEvents(socket, { rate: deps.eventLimit, logger, metrics: deps.metrics });

    socket.on('subscribe', (request: unknown, ack: unknown) => {
      answer(socket, ack, async (): Promise<SubscribeAck> => {
        if (!socket.data.scopes.includes('read')) return missingScope('read', 'following jobs');
        const parsed = subscribeRequest.safeParse(request);
        if (!parsed.success) return refused('invalid_argument', z.prettifyError(parsed.error));
        if ('feed' in parsed.data) {
          const jobs = await feed.join(socket, parsed.data.limit ?? limits.defaultPageSize);
          return { ok: true, jobs };
        }
        const { jobId } = parsed.data;
        if (socket.data.jobs.size >= MAX_JOBS_PER_SOCKET) {
          return refused('busy', `a socket follows at most ${MAX_JOBS_PER_SOCKET} jobs; unsubscribe first`);
        }
        const found = await subscriptions.subscribe(socket, jobId);
        return found ? { ok: true } : refused('not_found', `job '${jobId}' was not found`);
      });
    });

    socket.on('unsubscribe', (request: unknown, ack: unknown) => {
      answer(socket, ack, (): Promise<SubscribeAck> => {
        const parsed = unsubscribeRequest.safeParse(request);
        if (!parsed.success)
          return Promise.resolve(refused('invalid_argument', z.prettifyError(parsed.error)));
        if ('feed' in parsed.data) feed.leave(socket);
        else subscriptions.unsubscribe(socket, parsed.data.jobId);
        return Promise.resolve({ ok: true });
      });
    });

    socket.on('cancel', (request: unknown, ack: unknown) => {
      answer(socket, ack, async (): Promise<CancelAck> => {
        if (!socket.data.scopes.includes('write')) return missingScope('write', 'cancelling a job');
        const parsed = cancelRequest.safeParse(request);
        if (!parsed.success) return refused('invalid_argument', z.prettifyError(parsed.error));
        const view = await deps.cancel(socket.data.tenant, parsed.data.jobId);
        logger.info({ jobId: view.jobId, state: view.state }, 'job cancel requested over socket');
        return { ok: true, job: { jobId: view.jobId, state: view.state } };
      });
    });

    socket.on('disconnect', () => {
      subscriptions.dropSocket(socket);
      feed.leave(socket);
    });
  });

  /**
   * Charges the request to its tenant's rate limit, runs it and acknowledges it; failures (a refusal
   * over the rate included) become `{ok: false, error}` with a safe message.
   */
  function answer<T>(socket: RealtimeSocket, ack: unknown, run: () => Promise<T>): void {
    const { chargeTenant } = deps;
    (chargeTenant ? chargeTenant(socket.data.tenant).then(run) : run()).then(
      (result) => {
        if (typeof ack === 'function') (ack as (answer: T) => void)(result);
      },
      (error: unknown) => {
        if (typeof ack === 'function') (ack as (answer: unknown) => void)(failure(error));
      },
    );
  }

  function failure(error: unknown): { ok: false; error: SocketError } {
    if (isHopperError(error)) return { ok: false, error: socketErrorOf(error) };
    const ref = randomUUID().slice(0, 8);
    logger.error({ err: error, ref }, 'socket request failed');
    return refused('internal', `internal error (reference ${ref}); the gateway log has the details`);
  }

  return {
    io,
    get watchedJobs() {
      return subscriptions.watched;
    },
    async close() {
      // Not io.close(): that would close the HTTP server too, which the gateway drains itself.
      io.local.disconnectSockets(true);
      io.engine.close();
      feed.close();
      await subscriptions.close();
    },
  };
}

/**
 * A socket lives as long as its client wants, its credential does not: when an access token
 * expires, the socket is told so and closed, and the client reconnects with a fresh token
 * (socket.io-client takes `auth` as a function for that).
 */
function disconnectAtExpiry(socket: RealtimeSocket, expiresAt: number): void {
  const delay = Math.min(Math.max(0, expiresAt * 1000 - Date.now()), MAX_TIMER_MS);
  const timer = setTimeout(() => endSession(socket, 'the token has expired'), delay);
  timer.unref();
  socket.once('disconnect', () => clearTimeout(timer));
}

/**
 * A token that can be revoked before it expires (checked by introspection) is resolved again while
 * its socket is open, every `everySeconds` (as long as an answer is trusted for HTTP requests,
 * through the same cache), so a revoked token's socket is closed about as late as its HTTP requests
 * are refused. The scopes follow the latest answer. While the authorization server cannot answer, the
 * socket stays open and the next check tries again: an outage does not drop every client.
 */
function recheckWhileConnected(
  socket: RealtimeSocket,
  request: TenantRequest,
  everySeconds: number,
  deps: Pick<RealtimeDeps, 'resolveTenant' | 'logger'>,
): void {
  let open = true;
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    if (!open) return;
    timer = setTimeout(check, everySeconds * 1000);
    timer.unref();
  };
  const check = () => {
    deps.resolveTenant(request).then(
      (caller) => {
        if (caller.tenant !== socket.data.tenant) {
          endSession(socket, 'the token now acts for another tenant');
          return;
        }
        socket.data.scopes = caller.scopes;
        schedule();
      },
      (error: unknown) => {
        if (error instanceof UnauthorizedError) {
          if (open) endSession(socket, error.message);
          return;
        }
        if (!isHopperError(error)) deps.logger.error({ err: error }, 'socket credential re-check failed');
        schedule();
      },
    );
  };
  socket.once('disconnect', () => {
    open = false;
    clearTimeout(timer);
  });
  schedule();
}

/** Tells the client why (`unauthorized`) before closing its socket (the client sees `io server disconnect`). */
function endSession(socket: RealtimeSocket, reason: string): void {
  socket.emit('unauthorized', { code: 'invalid_token', message: reason });
  socket.disconnect(true);
}

function refused(code: string, message: string): { ok: false; error: SocketError } {
  return { ok: false, error: { code, message } };
}

function missingScope(scope: Scope, what: string): { ok: false; error: SocketError } {
  return refused('insufficient_scope', `${what} needs the ${scope} scope`);
}
