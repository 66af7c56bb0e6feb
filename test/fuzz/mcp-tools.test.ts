import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { limits, toolContracts, toolNames } from '@hopper/contracts';
import { toolArgs } from './support/arbitraries.ts';
import { fuzz, startFuzzStack, type FuzzStack } from './support/fuzz-stack.ts';

/** Cases per tool: nine tools at 10-100 ms a call keep this file near 20 s. */
const RUNS_PER_TOOL = 50;

let fx: FuzzStack;

beforeAll(async () => {
  fx = await startFuzzStack(inject('redisUrl'));
});

afterAll(async () => {
  await fx?.stack.stop();
});

/**
 * What the tool itself sees. The SDK reads `arguments` as a record, and a record drops a top-level
 * `__proto__` key (it would be the prototype, not a field), so that key never reaches the tool.
 */
function asTheToolSeesIt(argsJson: string): Record<string, unknown> {
  const args = JSON.parse(argsJson) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(args).filter(([key]) => key !== '__proto__'));
}

/** Whether a string or key anywhere in `value` holds a UTF-16 surrogate without its pair. */
function holdsLoneSurrogate(value: unknown): boolean {
  if (typeof value === 'string') return !value.isWellFormed();
  if (typeof value !== 'object' || value === null) return false;
  return Object.entries(value).some(([key, child]) => !key.isWellFormed() || holdsLoneSurrogate(child));
}

describe('MCP tool arguments, generated', () => {
  for (const tool of toolNames) {
    it(`${tool}: every call gets a typed answer, invalid arguments are refused as invalid_argument`, async () => {
      await fuzz(
        `mcp tools/call ${tool}`,
        toolArgs(tool, fx.ids),
        async (args) => {
          const json = JSON.stringify(args);
          const outcome = await fx.call(tool, json);
          if (Buffer.byteLength(json) > limits.maxRequestBodyBytes - 200) {
            // Refused at the HTTP edge before any JSON-RPC handling (413).
            expect(outcome.kind).toBe('rpc_error');
            return 'body_too_large';
          }
          if (holdsLoneSurrogate(args)) {
            // Valid JSON but not Unicode text: refused as invalid params before any tool runs.
            expect(outcome, json.slice(0, 500)).toMatchObject({ kind: 'rpc_error', code: -32602 });
            return 'lone_surrogate';
          }
          const valid = toolContracts[tool].input.safeParse(asTheToolSeesIt(json)).success;
          if (!valid) {
            expect(outcome, json.slice(0, 500)).toMatchObject({
              kind: 'tool_error',
              code: 'invalid_argument',
            });
          } else {
            expect(outcome.kind, json.slice(0, 500)).not.toBe('rpc_error');
            if (outcome.kind === 'tool_error') expect(outcome.code, outcome.message).not.toBe('internal');
          }
          return outcome.kind === 'tool_error' ? outcome.code : outcome.kind;
        },
        RUNS_PER_TOOL,
      );
      await fx.expectHealthy();
    });
  }
});
