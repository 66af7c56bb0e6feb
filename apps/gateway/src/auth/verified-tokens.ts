import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Caller, TokenVerifier } from '../tenant-resolver.ts';

/** Verified tokens remembered (a client sends the same token with every request until it expires). */
const VERIFIED_MAX = 10_000;

/**
 * Clients repeat one token for every request, and checking it costs a signature (0.1-0.3 ms of
 * CPU) or a round trip to the authorization server (introspection): an accepted token is remembered,
 * by its SHA-256 (the cache never holds a usable token), for `ttlMs` at most and never past its
 * expiry. Refused tokens are not remembered: each is checked again. Concurrent checks of one token
 * share one check, so a client's burst of parallel first requests costs one round trip.
 *
 * `ttlMs` 0 remembers nothing (every request is checked).
 */
export function rememberVerified(verify: TokenVerifier, ttlMs: number): TokenVerifier {
  if (ttlMs <= 0) return verify;
  const verified = new LRUCache<string, Caller>({ max: VERIFIED_MAX });
  const checking = new Map<string, Promise<Caller>>();
  return async (token) => {
    const key = createHash('sha256').update(token).digest('base64url');
    const known = verified.get(key);
    if (known) return known;
    let pending = checking.get(key);
    if (!pending) {
      pending = verify(token).finally(() => checking.delete(key));
      checking.set(key, pending);
    }
    const caller = await pending;
    const untilExpiry = caller.expiresAt === undefined ? ttlMs : caller.expiresAt * 1000 - Date.now();
    const ttl = Math.min(ttlMs, untilExpiry);
    if (ttl > 0) verified.set(key, caller, { ttl });
    return caller;
  };
}
