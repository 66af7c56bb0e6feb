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
 * Whether a request (or one in a batch) names a method Hopper serves but its params do not fit.
 * The SDK's legacy path (2025-11-25) answers such a request with -32603 "Internal error" and a
 * validation dump; the gateway refuses it first, as the client's mistake (-32602 "Invalid params").
 */
export function hasMalformedParams(body: unknown): boolean {
  const messages: unknown[] = Array.isArray(body) ? body : [body];
  return messages.some((message) => {
    const method =
      typeof message === 'object' && message !== null ? (message as { method?: unknown }).method : undefined;
    const fits = typeof method === 'string' && Object.hasOwn(shapes, method) ? shapes[method] : undefined;
    return fits !== undefined && !fits(message);
  });
}
