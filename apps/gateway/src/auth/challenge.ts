import type { Scope } from '@hopper/contracts';
import type { UnauthorizedError } from '../tenant-resolver.ts';

/**
 * `WWW-Authenticate: Bearer …` challenges (RFC 6750 section 3), with the parameters in the order
 * the MCP SDK writes its own scope challenges, so every refusal from Hopper reads alike.
 * `resource_metadata` (RFC 9728) points OAuth clients at the protected resource metadata.
 */
function bearerChallenge(params: {
  error?: 'invalid_token' | 'insufficient_scope';
  description?: string;
  scope?: string;
  resourceMetadata?: string | undefined;
}): string {
  const parts: string[] = [];
  if (params.error) parts.push(`error="${params.error}"`);
  if (params.description) parts.push(`error_description="${quoted(params.description)}"`);
  if (params.scope) parts.push(`scope="${params.scope}"`);
  if (params.resourceMetadata) parts.push(`resource_metadata="${quoted(params.resourceMetadata)}"`);
  return parts.length > 0 ? `Bearer ${parts.join(', ')}` : 'Bearer';
}

/**
 * What an OAuth client should ask for first (MCP scope selection: the 401's `scope` wins over
 * `scopes_supported`): `read`, the least privilege that makes Hopper useful. A client steps up to
 * `write` when its first write call is answered 403 insufficient_scope.
 */
const BASELINE_SCOPE: Scope = 'read';

/**
 * The challenge of a 401: `invalid_token` when a credential was given but refused. With OAuth
 * configured it names the metadata document and the baseline scope; with API keys only, neither
 * exists.
 */
export function unauthorizedChallenge(
  error: UnauthorizedError,
  resourceMetadata: string | undefined,
): string {
  return bearerChallenge({
    ...(error.invalidToken ? { error: 'invalid_token', description: error.message } : {}),
    ...(resourceMetadata ? { scope: BASELINE_SCOPE, resourceMetadata } : {}),
  });
}

/** The challenge of a 403: the scope the operation needs (MCP authorization, scope challenges). */
export function insufficientScopeChallenge(
  scope: Scope,
  description: string,
  resourceMetadata: string | undefined,
): string {
  return bearerChallenge({ error: 'insufficient_scope', description, scope, resourceMetadata });
}

/** An RFC 7230 quoted-string body: backslash and quote escaped, anything unprintable replaced. */
function quoted(value: string): string {
  return value.replaceAll(/[\\"]/g, '\\$&').replaceAll(/[^\x20-\x7E]/g, ' ');
}
