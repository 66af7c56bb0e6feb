import { jobCatalog, type JobKind, type JobResult, type JobView } from '@hopper/contracts';

/**
 * A completed job's result, checked against its kind's result schema in the job catalog. Undefined
 * while the job is not completed, or when its record holds something else (a record written by an
 * older worker): callers answer with the job handle then, as for a job still running.
 */
export function jobResult<K extends JobKind>(kind: K, view: JobView): JobResult<K> | undefined {
  if (view.state !== 'completed') return undefined;
  const parsed = jobCatalog[kind].result.safeParse(view.result);
  return parsed.success ? (parsed.data as JobResult<K>) : undefined;
}
