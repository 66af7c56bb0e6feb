import { connectSdkClient, rawMcpCaller } from '../../load/load-generator.ts';
import { measure, type Measurement } from '../measure.ts';
import { stepPlan, type RunContext, type ScenarioResult } from '../scenario.ts';
import { INGEST_COLLECTION } from '../workloads.ts';

/** `get_job` of a finished job (Hopper caches finished jobs: they never change). */
export async function getJob(ctx: RunContext): Promise<ScenarioResult> {
  const jobId = await finishedJob(ctx);
  const clients = ctx.profile.clients;
  ctx.log(`  hopper, ${clients} clients`);
  const measurement = await measure(
    'hopper',
    stepPlan(ctx.profile, clients),
    () => rawMcpCaller(ctx.hopperUrl, 'get_job', ctx.workloads.getJob(jobId), clients, ctx.headers),
    ctx.hopperPids,
    undefined,
    ctx.stack ? () => ctx.stack!.redisCommands() : undefined,
  );
  return {
    id: 'get-job',
    title: 'get_job',
    description: 'The state of one finished ingest job, over and over (finished jobs are cached).',
    measurements: [measurement],
    ratios: [],
  };
}

/** Ingests a small document, waiting for it, and returns its job id. */
async function finishedJob(ctx: RunContext): Promise<string> {
  const client = await connectSdkClient(ctx.hopperUrl, ctx.headers);
  try {
    const { documentId, content } = ctx.workloads.document('job', 0, 2_000);
    const result = await client.callTool({
      name: 'ingest_document',
      arguments: { content, documentId, collection: INGEST_COLLECTION },
    });
    const job = result.structuredContent as { jobId?: string; state?: string } | undefined;
    if (result.isError || job?.jobId === undefined || job.state !== 'completed') {
      throw new Error(`the ingest for the get_job scenario did not complete: ${JSON.stringify(result)}`);
    }
    return job.jobId;
  } finally {
    await client.close();
  }
}

export async function smallEmbed(ctx: RunContext): Promise<ScenarioResult> {
  const clients = ctx.profile.clients;
  ctx.log(`  hopper, ${clients} clients`);
  const measurement = await measure(
    'hopper',
    stepPlan(ctx.profile, clients),
    () => rawMcpCaller(ctx.hopperUrl, 'embed_texts', ctx.workloads.smallEmbed(), clients, ctx.headers),
    ctx.hopperPids,
  );
  return {
    id: 'embed-small',
    title: 'embed_texts, 4 short texts',
    description:
      'Four texts of ~120 characters, new on every call (the embedding cache cannot answer), embedded inline by the gateway.',
    measurements: [measurement],
    ratios: [],
  };
}

/**
 * `ingest_document` with `wait: false`: the time to check the document, store its body, queue the
 * job and answer. On the bench's own stack the ingest queue is paused meanwhile and emptied after
 * each size, so the worker's ingesting does not compete with the gateway for the two cores and no
 * backlog reaches the next scenario (the acknowledgement path is the same, paused or not).
 */
export async function ingestAcknowledge(ctx: RunContext): Promise<ScenarioResult> {
  const clients = ctx.profile.clients;
  const measurements: Measurement[] = [];
  await ctx.stack?.pauseIngest();
  try {
    for (const bytes of ctx.profile.ingestBytes) {
      const variant = formatBytes(bytes);
      ctx.log(`  hopper, ${clients} clients, ${variant}`);
      measurements.push(
        await measure(
          'hopper',
          stepPlan(ctx.profile, clients),
          () =>
            rawMcpCaller(
              ctx.hopperUrl,
              'ingest_document',
              ctx.workloads.ingestNoWait(bytes),
              clients,
              ctx.headers,
            ),
          ctx.hopperPids,
          variant,
        ),
      );
      await ctx.stack?.discardQueuedIngests();
    }
  } finally {
    await ctx.stack?.resumeIngest();
  }
  return {
    id: 'ingest-ack',
    title: 'ingest_document, wait: false (acknowledge)',
    description:
      'A new Markdown document on every call, acknowledged with its job handle. ' +
      (ctx.stack
        ? 'The ingest queue was paused during each step and emptied after it, so no worker ran meanwhile.'
        : 'Against a deployment the workers run the jobs meanwhile: the figures include that load.'),
    measurements,
    ratios: [],
  };
}

export function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${bytes / (1024 * 1024)} MB` : `${bytes / 1024} KB`;
}
