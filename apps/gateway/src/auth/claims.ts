import { isScope, isTenantId, type Scope } from '@hopper/contracts';

/** Clocks of the gateway and the authorization server may disagree by this much (seconds). */
export const CLOCK_TOLERANCE_S = 30;

/**
 * The Hopper scopes a token grants. RFC 9068 access tokens carry `scope`, a space-separated
 * string; Okta and Microsoft Entra put them in `scp` (a list, or a space-separated string).
 * `scope` wins when both are present. Scopes meant for other services are ignored.
 */
export function grantedScopes(claims: Record<string, unknown>): Scope[] {
  const raw = claims.scope ?? claims.scp;
  const names = typeof raw === 'string' ? raw.split(' ') : Array.isArray(raw) ? raw : [];
  const granted = new Set<Scope>();
  for (const name of names) if (typeof name === 'string' && isScope(name)) granted.add(name);
  return [...granted];
}

/**
 * The tenant a token acts for, from the configured claim, or a reason to refuse the token. There
 * is no fallback claim: a token without the tenant is refused rather than filed under, say, its
 * subject, which would silently give each user a tenant of their own.
 */
export function tenantFromClaims(
  claims: Record<string, unknown>,
  claim: string,
): { tenant: string } | { problem: string } {
  const value = claims[claim];
  if (value === undefined) return { problem: `the token carries no ${claim} claim naming its tenant` };
  if (typeof value !== 'string' || !isTenantId(value)) {
    return { problem: `the token's ${claim} claim is not a tenant id (1-64 letters, digits, _ or -)` };
  }
  return { tenant: value };
}
