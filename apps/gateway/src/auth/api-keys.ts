import { createHash } from 'node:crypto';
import { isScope, isTenantId, scopes, type Scope } from '@hopper/contracts';

/**
 * One API key as the gateway holds it: the tenant it acts for, what it may do, and the key's
 * SHA-256, never the key.
 */
export interface ApiKey {
  tenant: string;
  keyHash: Buffer;
  scopes: readonly Scope[];
}

/** Shorter keys are guessable; 16 characters of a random token is the floor, 32+ is advised. */
const MIN_KEY_LENGTH = 16;

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/**
 * Parses `HOPPER_API_KEYS`: comma-separated `tenant:key` pairs (several keys per tenant allow
 * rotation), each optionally ending in `:read` or `:write` to hold that one scope; a key without a
 * suffix holds both. Problems name the pair by position and never echo a key.
 */
export function parseApiKeys(raw: string | undefined): { keys: ApiKey[]; problems: string[] } {
  const keys: ApiKey[] = [];
  const problems: string[] = [];
  if (!raw) return { keys, problems };
  raw
    .split(',')
    .map((pair) => pair.trim())
    .filter(Boolean)
    .forEach((pair, i) => {
      const colon = pair.indexOf(':');
      const tenant = colon > 0 ? pair.slice(0, colon) : '';
      const { key, scope } = splitScope(colon > 0 ? pair.slice(colon + 1) : '');
      if (!isTenantId(tenant)) {
        problems.push(
          `HOPPER_API_KEYS: pair ${i + 1} must be tenant:key with a tenant of 1-64 letters, digits, _ or -`,
        );
      } else if (key.length < MIN_KEY_LENGTH) {
        problems.push(
          `HOPPER_API_KEYS: the key of tenant '${tenant}' is shorter than ${MIN_KEY_LENGTH} characters`,
        );
      } else {
        keys.push({ tenant, keyHash: hashApiKey(key), scopes: scope ? [scope] : scopes });
      }
    });
  const hashes = new Set(keys.map((k) => k.keyHash.toString('hex')));
  if (hashes.size !== keys.length) problems.push('HOPPER_API_KEYS: the same key is given twice');
  return { keys, problems };
}

/** `key:read` → the key and its one scope; a key without a scope suffix is returned whole. */
function splitScope(text: string): { key: string; scope?: Scope } {
  const colon = text.lastIndexOf(':');
  const suffix = text.slice(colon + 1);
  return colon > 0 && isScope(suffix) ? { key: text.slice(0, colon), scope: suffix } : { key: text };
}
