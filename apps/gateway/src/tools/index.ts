import { runAsTenant } from '@hopper/redis';
import { batchTools } from './batch-tools.ts';
import { documentTools } from './document-tools.ts';
import { jobTools } from './job-tools.ts';
import type { CallContext, ToolHandlers } from './tool-context.ts';
import type { ToolDeps } from './tool-context.ts';

/**
 * Every tool's handler, built once per process and shared by every request. Each runs with its
 * call's tenant as the current tenant, for the layers below that key data by tenant.
 */
export function createToolHandlers(deps: ToolDeps): ToolHandlers {
  const handlers: ToolHandlers = { ...documentTools(deps), ...jobTools(deps), ...batchTools(deps) };
  return Object.fromEntries(
    Object.entries(handlers).map(([name, handler]) => [
      name,
      (input: never, call: CallContext) =>
        runAsTenant(call.tenant, () => (handler as (i: never, c: CallContext) => unknown)(input, call)),
    ]),
  ) as ToolHandlers;
}

export type {
  CallContext,
  ToolDeps,
  ToolHandler,
  ToolHandlers,
  ToolInput,
  ToolOutput,
} from './tool-context.ts';
