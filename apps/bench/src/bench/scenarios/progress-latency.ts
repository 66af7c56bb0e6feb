import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, JobView, ServerToClientEvents } from '@hopper/contracts';
import { connectSdkClient } from '../../load/load-generator.ts';
import type { RunContext, ScenarioResult } from '../scenario.ts';
import { summarize } from '@hopper/harness';
import { INGEST_COLLECTION } from '../workloads.ts';

/** ~300 chunks: ten embedding batches of 32, so each job publishes a dozen progress events. */
const DOCUMENT_CHARS = 330_000;
const KIND = 'progress';
/** Socket.IO events still on their way when the last MCP call returns. */
const SETTLE_MS = 300;

/** A progress event as a client got it: which job, how far, when the worker published it, when it arrived. */
interface Arrival {
  progress: number;
  /** Worker's clock (Date.now() at publish, whole milliseconds). */
  ts?: number;
  /** This process's clock, fractional milliseconds since the epoch. */
  at: number;
}

const now = () => performance.timeOrigin + performance.now();

/**
 * Progress latency from the worker's publish to a client, through each path a client can follow a
 * job by: an MCP client waiting on `ingest_document` with a progress token (the gateway turns the
 * Redis event into `notifications/progress` on the call's stream) and a Socket.IO client in the
 * job's room. All on one machine, so one clock; the worker stamps whole milliseconds.
 *
 * MCP notifications carry no timestamp: each is matched to the Socket.IO copy of the same event
 * (same job, same progress value), which carries the worker's.
 */
export async function progressLatency(ctx: RunContext): Promise<ScenarioResult> {
  const base = new URL(ctx.hopperUrl).origin;
  const socket = await connectSocket(base, ctx.headers);
  const jobsByDocument = new Map<string, string>();
  const socketEvents = new Map<string, Arrival[]>();
  const prefix = ctx.workloads.documentPrefix(KIND);

  // New jobs come through the jobs feed; each of ours is followed in its own room at once.
  socket.on('jobs', ({ job }: { job: JobView }) => {
    const documentId = job.documentId;
    if (documentId === undefined || !documentId.startsWith(prefix) || jobsByDocument.has(documentId)) return;
    jobsByDocument.set(documentId, job.jobId);
    void socket.emitWithAck('subscribe', { jobId: job.jobId });
  });
  const onEvent = (event: { jobId: string; progress: number; ts?: number }) => {
    const at = now();
    const list = socketEvents.get(event.jobId) ?? [];
    list.push({ progress: event.progress, ...(event.ts === undefined ? {} : { ts: event.ts }), at });
    socketEvents.set(event.jobId, list);
  };
  socket.on('job:progress', onEvent);
  socket.on('job:completed', onEvent);
  const feed = await socket.emitWithAck('subscribe', { feed: 'jobs', limit: 1 });
  if (!feed.ok) throw new Error(`the jobs feed refused the bench: ${feed.error.message}`);

  const mcpEvents = new Map<string, Arrival[]>();
  const chunks: number[] = [];
  const jobs = ctx.profile.progressJobs;
  ctx.log(`  ${jobs} ingests followed by MCP and Socket.IO clients`);
  try {
    await Promise.all(
      Array.from({ length: jobs }, async (_, i) => {
        const client = await connectSdkClient(ctx.hopperUrl, ctx.headers);
        const { documentId, content } = ctx.workloads.document(KIND, i, DOCUMENT_CHARS);
        const arrivals: Arrival[] = [];
        mcpEvents.set(documentId, arrivals);
        try {
          const answer = await client.callTool(
            { name: 'ingest_document', arguments: { content, documentId, collection: INGEST_COLLECTION } },
            { onprogress: (p) => arrivals.push({ progress: p.progress, at: now() }) },
          );
          if (answer.isError)
            throw new Error(`ingest ${documentId} failed: ${JSON.stringify(answer.content)}`);
          chunks.push(Number((answer.structuredContent as { chunks?: number } | undefined)?.chunks ?? 0));
        } finally {
          await client.close();
        }
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  } finally {
    socket.close();
  }

  const socketLatencies: number[] = [];
  const mcpLatencies: number[] = [];
  for (const [documentId, arrivals] of mcpEvents) {
    const published = socketEvents.get(jobsByDocument.get(documentId) ?? '') ?? [];
    // The first event after subscribing is the job's state at that moment, sent again for a late
    // subscriber: not a live delivery.
    for (const event of published.slice(1))
      if (event.ts !== undefined) socketLatencies.push(event.at - event.ts);
    for (const arrival of arrivals) {
      const ts = published.find((event) => event.progress === arrival.progress)?.ts;
      if (ts !== undefined) mcpLatencies.push(arrival.at - ts);
    }
  }
  return {
    id: 'progress-latency',
    title: 'progress latency, worker publish to client',
    description:
      `${jobs} ingests of ~${Math.round(DOCUMENT_CHARS / 1000)} KB at once, each waited on by an MCP SDK client with a progress token ` +
      'and followed by one Socket.IO client (jobs feed, then the job’s room). Latency = arrival − the worker’s timestamp ' +
      '(whole milliseconds, so ±1 ms); MCP notifications are matched to the same event’s Socket.IO copy for its timestamp.',
    measurements: [],
    ratios: [],
    progress: {
      jobs,
      chunksPerJob: Math.round(chunks.reduce((sum, n) => sum + n, 0) / Math.max(1, chunks.length)),
      mcp: { events: mcpLatencies.length, latencyMs: summarize(mcpLatencies) },
      socketIo: { events: socketLatencies.length, latencyMs: summarize(socketLatencies) },
    },
  };
}

async function connectSocket(
  base: string,
  headers: Record<string, string>,
): Promise<Socket<ServerToClientEvents, ClientToServerEvents>> {
  const token = headers.authorization?.replace(/^Bearer /i, '');
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(base, {
    path: '/socket.io',
    transports: ['websocket'],
    reconnection: false,
    ...(token ? { auth: { token } } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error) => reject(error));
  });
  return socket;
}
