import type { StandardSchemaWithJSON } from '@modelcontextprotocol/server';
import type * as z from 'zod';

type Conversion = 'input' | 'output';

/**
 * The tool's schema as `tools/list` shows it, without the SDK's own check. For arguments that check
 * answers with an untyped text error, so the tool call validates them itself (the same zod schema)
 * and an invalid argument fails like every other tool failure, with the code `invalid_argument` in
 * the result's `_meta`. For results, see `checkedOutput` in server-factory.ts.
 *
 * Its JSON Schema is converted once per process instead of once per request. The SDK builds a fresh
 * McpServer for every request (stateless serving) and memoises the conversion only on that server:
 * each `tools/call` converted the tool's input schema (for the `Mcp-Param-*` header check) and its
 * output schema (for projecting the result), 23% of the gateway's CPU on cached searches in a
 * `--cpu-prof` profile. The converted schemas are frozen: they are shared by every request, so a
 * caller that tried to change one would fail loudly instead of changing it for everyone.
 */
export function advertisedOnly(schema: z.ZodType): StandardSchemaWithJSON {
  const standard = schema['~standard'];
  const converted = new Map<string, Record<string, unknown>>();
  const convert = (io: Conversion) => (options: { target: string }) => {
    const key = `${io} ${options.target}`;
    let json = converted.get(key);
    if (json === undefined) {
      json = deepFreeze(standard.jsonSchema[io](options));
      converted.set(key, json);
    }
    return json;
  };
  return {
    '~standard': {
      ...standard,
      validate: (value: unknown) => ({ value }),
      jsonSchema: { input: convert('input'), output: convert('output') },
    },
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
