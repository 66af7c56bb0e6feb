import { describe, expect, it } from 'vitest';
import { grantedScopes, tenantFromClaims } from './claims.ts';

describe('grantedScopes', () => {
  it('reads the space-separated scope claim and keeps only Hopper scopes', () => {
    expect(grantedScopes({ scope: 'openid read profile' })).toEqual(['read']);
    expect(grantedScopes({ scope: 'write read' }).sort()).toEqual(['read', 'write']);
  });

  it('reads scp as a list or a string when scope is absent', () => {
    expect(grantedScopes({ scp: ['write', 'email'] })).toEqual(['write']);
    expect(grantedScopes({ scp: 'read write' }).sort()).toEqual(['read', 'write']);
  });

  it('prefers scope over scp', () => {
    expect(grantedScopes({ scope: 'read', scp: ['write'] })).toEqual(['read']);
  });

  it('grants nothing for a missing, empty or malformed claim', () => {
    expect(grantedScopes({})).toEqual([]);
    expect(grantedScopes({ scope: '' })).toEqual([]);
    expect(grantedScopes({ scope: 42, scp: { read: true } })).toEqual([]);
    expect(grantedScopes({ scp: ['READ', 'read:all', 7] })).toEqual([]);
  });
});

describe('tenantFromClaims', () => {
  it('takes the tenant from the configured claim', () => {
    expect(tenantFromClaims({ hopper_tenant: 'acme', sub: 'u1' }, 'hopper_tenant')).toEqual({
      tenant: 'acme',
    });
    expect(tenantFromClaims({ org_id: 'org_42' }, 'org_id')).toEqual({ tenant: 'org_42' });
  });

  it('refuses a token without the claim instead of falling back to another one', () => {
    expect(tenantFromClaims({ sub: 'user-1' }, 'hopper_tenant')).toEqual({
      problem: 'the token carries no hopper_tenant claim naming its tenant',
    });
  });

  it('refuses values that are not tenant ids', () => {
    for (const value of ['', 'a b', 'x'.repeat(65), '../etc', 7, ['acme']]) {
      expect(tenantFromClaims({ hopper_tenant: value }, 'hopper_tenant')).toHaveProperty('problem');
    }
  });
});
