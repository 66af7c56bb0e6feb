import { batchTools } from './batch-tools.ts';
import { documentTools } from './document-tools.ts';
import { jobTools } from './job-tools.ts';
import type { ToolHandlers } from '@hopper/contracts';
import type { ToolDeps } from './tool-context.ts';

/**
 * Every tool's handler, built once per process and shared by every request. Each passes its call's
 * tenant explicitly to whatever keys data by tenant (the store, the caches, the queues).
 */
export function createToolHandlers(deps: ToolDeps): ToolHandlers {
  return { ...documentTools(deps), ...jobTools(deps), ...batchTools(deps) };
}

export type { ToolDeps } from './tool-context.ts';
