import type { ServerResponse } from 'node:http';
import { DEFAULT_COLLECTION, isHopperError, limits, type JobView } from '@hopper/contracts';
import type { EpochBump } from '@hopper/cache';
import type { DocumentRecord } from '@hopper/store';
import type { ProgressSubscriber } from '@hopper/jobs';
import type { Logger } from '@hopper/lifecycle';
import { SERVER_INFO_META_KEY, SUBSCRIPTION_ID_META_KEY } from '@modelcontextprotocol/server';
import { insufficientScopeChallenge } from '../auth/challenge.ts';
import type { Caller } from '../tenant-resolver.ts';
import { detailedTask, taskJob, type TaskJobs } from './job-tasks.ts';
import {
  TASKS_EXTENSION,
  TASKS_REQUIRED,
  modernRequest,
  standardHeadersAgree,
  type ModernRequest,
  type TaskPath,
} from './task-path.ts';
import {
  INSUFFICIENT_SCOPE,
  INVALID_PARAMS,
  LIMIT_REACHED,
  MISSING_CAPABILITY,
  internalError,
  jsonRpcError,
  sendJson,
} from './json-rpc.ts';
import { documentIdOfUri } from './document-uri.ts';

/** Job ids are `[a-z0-9_]` (ids.ts), so a job's URI needs no decoding. */
const JOB_URI = /^hopper:\/\/jobs\/([a-z0-9_]{1,128})$/;

/**
 * An SSE comment this often keeps an idle stream through proxies that close quiet connections
 * (the SDK's own default for its streams).
 */
const KEEP_ALIVE_MS = 15_000;

/**
 * A client that stops reading while notifications keep coming would have them pile up in the
 * gateway's memory; past this many unsent bytes its stream is closed (it can listen again and get
 * every task's current state at once).
 */
const MAX_UNSENT_BYTES = 1024 * 1024;

export interface ListenPathDeps {
  jobs: TaskJobs;
  /** The gateway's one progress subscriber: a channel per watched job, shared by every listener. */
  progress: Pick<ProgressSubscriber, 'watch'>;
  logger: Logger;
  /** Named in the `_meta` of the result that closes a stream. */
  serverInfo: { name: string; version: string };
  /** Open streams per tenant and in all, on this gateway (0: no limit). */
  limits: { perTenant: number; total: number };
  /** Named in the 403 challenge of a caller without the read scope. */
  resourceMetadataUrl?: string;
  /** The store, read for the watched documents' versions when their collection changes. */
  documents: {
    getDocuments(
      tenant: string,
      collection: string,
      ids: readonly string[],
    ): Promise<Map<string, DocumentRecord>>;
  };
  /** Collection epoch bumps (every write), heard by every gateway: when to read the documents again. */
  bumps: { onBump(listener: (bump: EpochBump) => void): () => void };
}

/**
 * Answers a `subscriptions/listen`, or returns false for the caller to send the request on (to the
 * SDK): the shape of the task path.
 */
export type ListenPath = TaskPath;

export interface ListenStreams {
  serve: ListenPath;
  /** Open streams on this gateway (for tests of the bounds and of shutdown). */
  readonly openCount: number;
  /**
   * Ends every open stream the way the spec closes one gracefully (the listen request's empty
   * result, then the end of the response) and stops watching their jobs. Safe to call twice; new
   * listens are refused from then on.
   */
  close(): Promise<void>;
}

/** What one subscription watches in one job: its task, its `hopper://jobs/{id}` resource, or both. */
interface Watch {
  jobId: string;
  task: boolean;
  uri?: string;
  stop?: () => Promise<void>;
  /** The last task sent (as JSON) and the job record last seen, to send only what changed. */
  lastTask?: string;
  lastRecord?: string;
  /** A change arrived while the record was being read: read it once more after. */
  pending: boolean;
  reading: boolean;
}

/**
 * `subscriptions/listen` (2026-07-28) for Hopper's jobs, on any gateway replica: `notifications/tasks`
 * for the task ids a client names, each the full task as `tasks/get` answers it (job-tasks.ts builds
 * both), and `notifications/resources/updated` for the `hopper://jobs/{id}` URIs it names.
 *
 * The SDK (2.4) serves `subscriptions/listen` itself, with a pluggable event bus, but it cannot serve
 * this: its events are four list and resource kinds (no task status), its filter drops `taskIds`,
 * and a bus listener knows nothing of the caller, so it could not keep one tenant's jobs from another.
 * This path keeps the SDK's wire semantics: the acknowledgement first, naming what is honored; every
 * message tagged with the subscription id (the listen request's id); a stream with nothing honored is
 * closed at once; the listen request's empty result closes a stream gracefully.
 *
 * The events come from Redis: every change to a job's record is published on the job's channel
 * (progress-reporter.ts, job-records.ts), which the gateway's one progress subscriber follows while
 * somebody watches the job. A change makes the stream read the job's record (one read however many
 * events came in the meantime) and send what differs from what it sent last. Right after the
 * acknowledgement each task is sent as it stands, so a task that ended before the listen still ends
 * on the stream.
 *
 * Ids are the caller's tenant's: a task id that `tasks/get` would call unknown (another tenant's, or
 * not an ingest or batch) and a job URI that is not the tenant's are left out of the acknowledgement
 * and never notified, without saying which.
 */
export function createListenStreams(deps: ListenPathDeps): ListenStreams {
  const open = new Set<ListenStream>();
  const perTenant = new Map<string, number>();
  let closed = false;

  const serve: ListenPath = async (req, res, body, caller) => {
    const request = modernRequest(body);
    if (request === undefined || request.method !== 'subscriptions/listen') return false;
    // Headers missing or disagreeing with the body: the SDK refuses the request (-32020).
    if (!standardHeadersAgree(req.headers, request.method)) return false;
    try {
      await listen(res, request, caller);
    } catch (error) {
      // Redis (the ids) or the store (the documents) unreachable, most likely: a JSON-RPC error the client can
      // retry.
      const failure = internalError(deps.logger, { err: error }, 'subscriptions/listen failed');
      if (res.headersSent) res.end();
      else sendJson(res, 200, { jsonrpc: '2.0', id: request.id, error: failure });
    }
    return true;
  };

  async function listen(res: ServerResponse, request: ModernRequest, caller: Caller): Promise<void> {
    const { id, params } = request;
    const refuse = (code: number, message: string, data?: unknown, status = 200) =>
      sendJson(res, status, jsonRpcError(code, message, id, data));

    const filter = listenFilter(params.notifications);
    if (filter === undefined) {
      refuse(
        INVALID_PARAMS,
        'subscriptions/listen needs params.notifications: an object whose taskIds and resourceSubscriptions are lists of strings',
      );
      return;
    }
    if (filter.taskIds.length > 0 && !request.tasks) {
      refuse(
        MISSING_CAPABILITY,
        `taskIds need the ${TASKS_EXTENSION} extension in the request's client capabilities`,
        TASKS_REQUIRED,
        400,
      );
      return;
    }
    const named = filter.taskIds.length + filter.resourceSubscriptions.length;
    if (named > limits.maxSubscriptionIds) {
      refuse(
        INVALID_PARAMS,
        `subscriptions/listen names ${named} task ids and resource URIs; one subscription may name at most ${limits.maxSubscriptionIds}`,
      );
      return;
    }
    if (!caller.scopes.includes('read')) {
      res.setHeader(
        'www-authenticate',
        insufficientScopeChallenge(
          'read',
          'subscriptions/listen needs the read scope',
          deps.resourceMetadataUrl,
        ),
      );
      refuse(INSUFFICIENT_SCOPE, 'subscriptions/listen needs the read scope', undefined, 403);
      return;
    }
    const limit = limitReached(caller.tenant);
    if (limit) {
      refuse(LIMIT_REACHED, limit, { code: 'busy' });
      return;
    }

    const watches = await honoredWatches(filter, caller.tenant);
    const documents = watchedDocuments(filter);
    // The state the subscription starts from, read before the acknowledgement: a write the client
    // makes once acknowledged is always an update.
    if (documents.size > 0) await readDocumentStates(deps, caller.tenant, documents);
    // The ids were read from Redis meanwhile: the gateway may have started closing, or the tenant
    // may have opened its last allowed stream elsewhere on this gateway.
    const late = limitReached(caller.tenant);
    if (late) {
      refuse(LIMIT_REACHED, late, { code: 'busy' });
      return;
    }
    const stream = new ListenStream({
      res,
      subscriptionId: id,
      tenant: caller.tenant,
      watches,
      documents,
      deps,
      onClosed: () => {
        open.delete(stream);
        const count = (perTenant.get(caller.tenant) ?? 1) - 1;
        if (count > 0) perTenant.set(caller.tenant, count);
        else perTenant.delete(caller.tenant);
      },
    });
    open.add(stream);
    perTenant.set(caller.tenant, (perTenant.get(caller.tenant) ?? 0) + 1);
    stream.start();
  }

  function limitReached(tenant: string): string | undefined {
    if (closed) return 'the gateway is shutting down; listen again on another replica';
    const { perTenant: tenantLimit, total } = deps.limits;
    if (tenantLimit > 0 && (perTenant.get(tenant) ?? 0) >= tenantLimit) {
      return `this tenant has ${tenantLimit} subscriptions open on this gateway, the most it may; close one before opening another`;
    }
    if (total > 0 && open.size >= total) {
      return `this gateway has ${total} subscriptions open, the most it serves; retry on another replica or later`;
    }
    return undefined;
  }

  /** What the caller may watch of what it named, in the order named, once each. */
  async function honoredWatches(filter: ListenFilter, tenant: string): Promise<Map<string, Watch>> {
    const taskIds = [...new Set(filter.taskIds)];
    const uris = [...new Set(filter.resourceSubscriptions)];
    const [tasks, jobs] = await Promise.all([
      Promise.all(taskIds.map(async (taskId) => (await taskJob(deps.jobs, tenant, taskId)) !== undefined)),
      Promise.all(uris.map((uri) => tenantJob(uri, tenant))),
    ]);
    const watches = new Map<string, Watch>();
    const watch = (jobId: string) => {
      let entry = watches.get(jobId);
      if (!entry) {
        entry = { jobId, task: false, pending: false, reading: false };
        watches.set(jobId, entry);
      }
      return entry;
    };
    taskIds.forEach((taskId, index) => {
      if (tasks[index]) watch(taskId).task = true;
    });
    uris.forEach((uri, index) => {
      const jobId = jobs[index];
      if (jobId !== undefined) watch(jobId).uri = uri;
    });
    return watches;
  }

  /** The tenant's job a resource URI names; anything else is not watched here (see watchedDocuments). */
  async function tenantJob(uri: string, tenant: string): Promise<string | undefined> {
    const jobId = JOB_URI.exec(uri)?.[1];
    if (jobId === undefined) return undefined;
    try {
      await deps.jobs.get(tenant, jobId);
      return jobId;
    } catch (error) {
      if (isHopperError(error) && error.code === 'not_found') return undefined;
      throw error;
    }
  }

  return {
    serve,
    get openCount() {
      return open.size;
    },
    async close() {
      closed = true;
      await Promise.all([...open].map((stream) => stream.close(true)));
    },
  };
}

/** One open `subscriptions/listen` response. */
class ListenStream {
  readonly #res: ServerResponse;
  readonly #subscriptionId: string | number;
  readonly #tenant: string;
  readonly #watches: Map<string, Watch>;
  readonly #documents: DocumentWatches;
  readonly #deps: ListenPathDeps;
  #stopBumps: (() => void) | undefined;
  readonly #onClosed: () => void;
  #keepAlive: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: {
    res: ServerResponse;
    subscriptionId: string | number;
    tenant: string;
    watches: Map<string, Watch>;
    documents: Map<string, DocumentWatch>;
    deps: ListenPathDeps;
    onClosed: () => void;
  }) {
    this.#res = options.res;
    this.#subscriptionId = options.subscriptionId;
    this.#tenant = options.tenant;
    this.#watches = options.watches;
    this.#documents = { byId: options.documents, pending: false, reading: false };
    this.#deps = options.deps;
    this.#onClosed = options.onClosed;
  }

  /** Sends the acknowledgement, then watches every honored job (or closes: nothing to watch). */
  start(): void {
    const res = this.#res;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      // nginx and its kin would otherwise hold notifications back in their buffers.
      'x-accel-buffering': 'no',
    });
    res.on('close', () => void this.close(false));
    // The client may have hung up while its ids were being checked: then 'close' has come already.
    if (res.destroyed || res.socket?.destroyed !== false) {
      void this.close(false);
      return;
    }
    const watches = [...this.#watches.values()];
    const taskIds = watches.filter((watch) => watch.task).map((watch) => watch.jobId);
    const documents = [...this.#documents.byId.values()];
    const uris = [
      ...watches.flatMap((watch) => (watch.uri === undefined ? [] : [watch.uri])),
      ...documents.map((document) => document.uri),
    ];
    this.#notify('notifications/subscriptions/acknowledged', {
      notifications: {
        ...(taskIds.length > 0 ? { taskIds } : {}),
        ...(uris.length > 0 ? { resourceSubscriptions: uris } : {}),
      },
    });
    if (watches.length === 0 && documents.length === 0) {
      void this.close(true);
      return;
    }
    this.#keepAlive = setInterval(() => this.#write(': keepalive\n\n'), KEEP_ALIVE_MS);
    for (const watch of watches) void this.#watch(watch);
    if (documents.length > 0) {
      // Bumps first, then a read against the state read before the acknowledgement: a write that
      // landed in between is notified.
      this.#stopBumps = this.#deps.bumps.onBump((bump) => {
        if (bump.tenant === this.#tenant && bump.collection === DEFAULT_COLLECTION) this.#documentsChanged();
      });
      this.#documentsChanged();
    }
  }

  /**
   * Stops watching and ends the response: with the listen request's empty result when the server
   * closes the stream (`graceful`), without when the client went away. Safe to call twice.
   */
  close(graceful: boolean): Promise<void> {
    this.#closing ??= this.#close(graceful);
    return this.#closing;
  }

  async #close(graceful: boolean): Promise<void> {
    clearInterval(this.#keepAlive);
    this.#stopBumps?.();
    if (graceful) {
      this.#message({
        jsonrpc: '2.0',
        id: this.#subscriptionId,
        result: {
          resultType: 'complete',
          _meta: {
            [SUBSCRIPTION_ID_META_KEY]: this.#subscriptionId,
            [SERVER_INFO_META_KEY]: this.#deps.serverInfo,
          },
        },
      });
    }
    if (!this.#res.writableEnded) this.#res.end();
    this.#onClosed();
    // Each stop unsubscribes the job's channel once no listener on this gateway watches it.
    await Promise.all(
      [...this.#watches.values()].flatMap(({ stop }) => (stop ? [stop().catch(() => undefined)] : [])),
    );
  }

  async #watch(watch: Watch): Promise<void> {
    try {
      // The subscriber calls back with the job's current state first (read after subscribing, so no
      // change falls in between), then on every change, and again after a Redis reconnection.
      const stop = await this.#deps.progress.watch(this.#tenant, watch.jobId, () => this.#changed(watch));
      if (this.#closing) await stop();
      else watch.stop = stop;
    } catch (error) {
      this.#deps.logger.warn({ err: error, jobId: watch.jobId }, 'subscription could not watch a job');
    }
  }

  /** Reads the job's record once per burst of changes and sends what differs from the last sent. */
  #changed(watch: Watch): void {
    this.#readAfterChanges(
      watch,
      () => this.#refresh(watch),
      // Redis unreachable: the subscriber catches every watcher up when it reconnects.
      (error) =>
        this.#deps.logger.warn({ err: error, jobId: watch.jobId }, 'subscription could not read a job'),
    );
  }

  /**
   * Runs `read` for a change, and once more after it for every burst of changes that arrived
   * during it: one read at a time, however fast changes come. A failed read is reported and ends
   * the run; the next change starts another.
   */
  #readAfterChanges(
    state: { pending: boolean; reading: boolean },
    read: () => Promise<void>,
    onError: (error: unknown) => void,
  ): void {
    state.pending = true;
    if (state.reading) return;
    state.reading = true;
    void (async () => {
      try {
        while (state.pending && !this.#closing) {
          state.pending = false;
          await read();
        }
      } catch (error) {
        onError(error);
      } finally {
        state.reading = false;
      }
    })();
  }

  async #refresh(watch: Watch): Promise<void> {
    let view: JobView;
    try {
      view = await this.#deps.jobs.get(this.#tenant, watch.jobId);
    } catch (error) {
      // The record expired (a week after the job ended): nothing more will change.
      if (isHopperError(error) && error.code === 'not_found') return;
      throw error;
    }
    if (this.#closing) return;
    if (watch.task) {
      const task = await detailedTask(view, this.#tenant, this.#deps.jobs, this.#deps.logger);
      const text = JSON.stringify(task);
      if (text !== watch.lastTask) {
        watch.lastTask = text;
        this.#notify('notifications/tasks', task);
      }
    }
    if (watch.uri !== undefined) {
      const record = JSON.stringify(view);
      // The first read is the state the subscription starts from, not an update.
      if (watch.lastRecord !== undefined && record !== watch.lastRecord) {
        this.#notify('notifications/resources/updated', { uri: watch.uri });
      }
      watch.lastRecord = record;
    }
  }

  /**
   * Reads every watched document once per burst of writes to the default collection (one keyed
   * lookup for all of them) and notifies each whose version changed, appeared or went away.
   */
  #documentsChanged(): void {
    const documents = this.#documents;
    this.#readAfterChanges(
      documents,
      async () => {
        const changed = await readDocumentStates(this.#deps, this.#tenant, documents.byId);
        if (this.#closing) return;
        for (const uri of changed) this.#notify('notifications/resources/updated', { uri });
      },
      // The store unreadable for a moment: the next write to the collection reads again.
      (error) => this.#deps.logger.warn({ err: error }, 'subscription could not read its documents'),
    );
  }

  #notify(method: string, params: object): void {
    this.#message({
      jsonrpc: '2.0',
      method,
      params: { ...params, _meta: { [SUBSCRIPTION_ID_META_KEY]: this.#subscriptionId } },
    });
  }

  #message(message: unknown): void {
    this.#write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
  }

  #write(frame: string): void {
    const res = this.#res;
    if (res.writableEnded || res.destroyed) return;
    res.write(frame);
    if (res.writableLength > MAX_UNSENT_BYTES) {
      this.#deps.logger.warn(
        { tenant: this.#tenant, unsent: res.writableLength },
        'subscription stream closed: its client is not reading',
      );
      res.destroy();
    }
  }
}

/** A watched `hopper://documents/{id}` and the state last seen of it. */
interface DocumentWatch {
  uri: string;
  /** `version@updatedAt`, or `absent`; undefined before the first read. */
  last?: string;
}

interface DocumentWatches {
  byId: Map<string, DocumentWatch>;
  /** A write arrived while the documents were being read: read them once more after. */
  pending: boolean;
  reading: boolean;
}

/**
 * Reads the watched documents' records (one keyed lookup for all of them), records each one's
 * state, and returns the URIs whose state changed since the last read (none on the first).
 */
async function readDocumentStates(
  deps: ListenPathDeps,
  tenant: string,
  watches: Map<string, DocumentWatch>,
): Promise<string[]> {
  const records = await deps.documents.getDocuments(tenant, DEFAULT_COLLECTION, [...watches.keys()]);
  const changed: string[] = [];
  for (const [documentId, watch] of watches) {
    const record = records.get(documentId);
    const state = record ? `${record.version}@${record.updatedAt}` : 'absent';
    if (watch.last !== undefined && state !== watch.last) changed.push(watch.uri);
    watch.last = state;
  }
  return changed;
}

/**
 * The documents a filter names, by id, each with the URI as named: any well-formed document URI
 * (the caller's tenant's store is the only one read, so another tenant's document cannot be
 * watched). A document not stored yet is watched too: its ingest is an update.
 */
function watchedDocuments(filter: ListenFilter): Map<string, DocumentWatch> {
  const documents = new Map<string, DocumentWatch>();
  for (const uri of new Set(filter.resourceSubscriptions)) {
    const documentId = documentIdOfUri(uri);
    if (documentId !== undefined && !documents.has(documentId)) documents.set(documentId, { uri });
  }
  return documents;
}

interface ListenFilter {
  taskIds: string[];
  resourceSubscriptions: string[];
}

/**
 * The parts of a `SubscriptionFilter` Hopper can honor. The list-changed flags are accepted and left
 * out of the acknowledgement: Hopper's tools and resources never change while it runs.
 */
function listenFilter(value: unknown): ListenFilter | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { taskIds = [], resourceSubscriptions = [] } = value as Record<string, unknown>;
  if (!isStringList(taskIds) || !isStringList(resourceSubscriptions)) return undefined;
  return { taskIds, resourceSubscriptions };
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}
