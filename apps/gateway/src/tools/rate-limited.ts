import type { ChargeTenant } from '../tenant-rate-limit.ts';
import type { CallContext, ToolHandlers } from '@hopper/contracts';

/**
 * Charges every tool call to its tenant's rate limit before it runs, cached answers included (they
 * cost the gateway too). Hopper's own calls (cache warming) are not charged.
 */
export function withRateLimit(handlers: ToolHandlers, charge: ChargeTenant): ToolHandlers {
  return Object.fromEntries(
    Object.entries(handlers).map(([name, handler]) => {
      const run = handler as (input: unknown, call: CallContext) => Promise<object>;
      const limited = async (input: unknown, call: CallContext) => {
        if (!call.background) await charge(call.tenant);
        return run(input, call);
      };
      return [name, limited];
    }),
  ) as ToolHandlers;
}
