import type { CallContext, JobView } from '@hopper/contracts';
import type { ToolDeps } from './tool-context.ts';

/**
 * Waits for a job while the caller listens, forwarding progress (`JobsService.follow`: a caller
 * that goes away cancels its job). A legacy MCP request's route is in place meanwhile, so its
 * `notifications/cancelled` reaches the job from any replica.
 */
export async function followJob(
  deps: Pick<ToolDeps, 'jobs' | 'legacy' | 'shutdown'>,
  jobId: string,
  call: CallContext,
  timeoutMs: number,
): Promise<JobView> {
  const follow = () =>
    deps.jobs.follow(call.tenant, jobId, {
      timeoutMs,
      callerGone: call.signal,
      ...(deps.shutdown ? { signal: deps.shutdown } : {}),
      ...(call.progress ? { onProgress: call.progress } : {}),
    });
  const { legacyRequest } = call;
  if (!legacyRequest || !deps.legacy) return follow();
  return deps.legacy.whileWaiting(call.tenant, legacyRequest, jobId, timeoutMs, follow);
}
