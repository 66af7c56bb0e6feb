import type { JobView } from '@hopper/contracts';
import type { ToolDeps } from './tool-context.ts';
import type { CallContext } from '@hopper/contracts';

/**
 * Waits for a job while the caller listens, forwarding progress. If the caller goes away (a modern
 * client closing its stream) the job is cancelled: nobody is left to receive its result.
 */
export async function followJob(
  deps: Pick<ToolDeps, 'jobs' | 'redis' | 'keys' | 'logger' | 'shutdown'>,
  jobId: string,
  call: CallContext,
  timeoutMs: number,
): Promise<JobView> {
  const { jobs, redis, keys } = deps;
  // The route lives in the caller's tenant's key space, so only that tenant's requests can write,
  // delete or use it, whatever session id another caller presents (see Keys.legacyRequest).
  const legacyKey = call.legacyRequest
    ? keys.legacyRequest(call.tenant, call.legacyRequest.sessionId, call.legacyRequest.requestId)
    : undefined;
  if (legacyKey) await redis.set(legacyKey, jobId, 'PX', timeoutMs + 60_000);
  try {
    const view = await jobs.waitForJob(call.tenant, jobId, {
      timeoutMs,
      signal: deps.shutdown ? AbortSignal.any([call.signal, deps.shutdown]) : call.signal,
      ...(call.progress ? { onProgress: call.progress } : {}),
    });
    if (call.signal.aborted && view.state !== 'completed' && view.state !== 'failed') {
      deps.logger.info({ jobId }, 'caller went away; cancelling its job');
      return (await jobs.cancel(call.tenant, jobId)).job;
    }
    return view;
  } finally {
    if (legacyKey) await redis.del(legacyKey);
  }
}
