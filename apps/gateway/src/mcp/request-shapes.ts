import { isSpecType } from '@modelcontextprotocol/server';

/**
 * The requests Hopper serves, by method, with the SDK's own check of a well-formed one. Not
 * `tools/call`: the SDK refuses its malformed params properly, and it is the hot path.
 */
const shapes: Record<string, (message: unknown) => boolean> = {
  initialize: isSpecType.InitializeRequest,
  ping: isSpecType.PingRequest,
  'tools/list': isSpecType.ListToolsRequest,
  'resources/list': isSpecType.ListResourcesRequest,
  'resources/templates/list': isSpecType.ListResourceTemplatesRequest,
  'resources/read': isSpecType.ReadResourceRequest,
};

/**
 * The method of a request (or of the first in a batch) that Hopper serves but whose params do not
 * fit. The SDK's legacy path (2025-11-25) answers such a request with -32603 "Internal error" and a
 * validation dump; the gateway refuses it first, as the client's mistake (-32602 "Invalid params").
 */
export function malformedMethod(body: unknown): string | undefined {
  const messages: unknown[] = Array.isArray(body) ? body : [body];
  for (const message of messages) {
    const method =
      typeof message === 'object' && message !== null ? (message as { method?: unknown }).method : undefined;
    if (typeof method !== 'string' || !Object.hasOwn(shapes, method)) continue;
    if (!shapes[method]!(message)) return method;
  }
  return undefined;
}
