import { describe, expect, it } from 'vitest';
import { ConfigError } from '@hopper/contracts';
import { loadConfig } from './config.ts';

const base = { REDIS_URL: 'redis://127.0.0.1:6379' };

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env, '/srv/hopper');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('gateway loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(base, '/srv/hopper');
    expect(config).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      dataDir: '/srv/hopper/.hopper',
      storeUri: '/srv/hopper/.hopper/store',
      redisPrefix: 'hopper',
      embeddings: { provider: 'builtin' },
      tenant: 'local',
    });
  });

  it('builds the OpenAI-compatible provider settings', () => {
    const config = loadConfig(
      {
        ...base,
        HOPPER_EMBEDDINGS_PROVIDER: 'openai',
        HOPPER_EMBEDDINGS_URL: 'http://127.0.0.1:11434/v1',
        HOPPER_EMBEDDINGS_MODEL: 'nomic-embed-text',
        HOPPER_EMBEDDINGS_API_KEY: 'sk-test',
      },
      '/srv',
    );
    expect(config.embeddings).toEqual({
      provider: 'openai',
      url: 'http://127.0.0.1:11434/v1',
      model: 'nomic-embed-text',
      apiKey: 'sk-test',
      batchSize: 64,
      timeoutMs: 30_000,
    });
  });

  it('reports every problem at once, one line per variable', () => {
    const found = problems({
      HOPPER_PORT: '99999',
      HOPPER_HOST: '0.0.0.0',
      HOPPER_EMBEDDINGS_PROVIDER: 'openai',
      HOPPER_EMBEDDINGS_URL: 'not a url',
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^HOPPER_PORT: /),
        expect.stringMatching(/^HOPPER_HOST: '0.0.0.0' is not a loopback address/),
        expect.stringMatching(/^HOPPER_EMBEDDINGS_URL: /),
        expect.stringMatching(/^HOPPER_EMBEDDINGS_MODEL: is required when HOPPER_EMBEDDINGS_PROVIDER=openai/),
        expect.stringMatching(/^REDIS_URL: is required/),
      ]),
    );
  });

  it('refuses settings this version cannot honour instead of ignoring them', () => {
    expect(problems({ ...base, HOPPER_EMBEDDINGS_PROVIDER: 'onnx' })).toEqual([
      expect.stringMatching(/^HOPPER_EMBEDDINGS_PROVIDER: 'onnx' is not available/),
    ]);
  });

  it('holds API keys as hashes, and serves other machines only with them', () => {
    const config = loadConfig(
      { ...base, HOPPER_HOST: '0.0.0.0', HOPPER_API_KEYS: 'acme:0123456789abcdef, globex:fedcba9876543210' },
      '/srv',
    );
    expect(config.apiKeys.map((k) => k.tenant)).toEqual(['acme', 'globex']);
    expect(JSON.stringify(config)).not.toContain('0123456789abcdef');
    expect(problems({ ...base, HOPPER_API_KEYS: 'acme:short' })).toEqual([
      expect.stringMatching(/^HOPPER_API_KEYS: the key of tenant 'acme' is shorter than 16/),
    ]);
    const malformed = problems({ ...base, HOPPER_API_KEYS: 'no-colon-here-but-long-enough' });
    expect(malformed).toEqual([expect.stringMatching(/^HOPPER_API_KEYS: pair 1 must be tenant:key/)]);
    expect(malformed.join()).not.toContain('no-colon-here-but-long-enough');
  });

  it('gives API keys both scopes, or the one their :read or :write suffix names', () => {
    const config = loadConfig(
      {
        ...base,
        HOPPER_API_KEYS: 'acme:0123456789abcdef,acme:reader-0123456789:read,ci:writer-0123456789:write',
      },
      '/srv',
    );
    expect(config.apiKeys.map((k) => [k.tenant, k.scopes])).toEqual([
      ['acme', ['read', 'write']],
      ['acme', ['read']],
      ['ci', ['write']],
    ]);
    expect(problems({ ...base, HOPPER_API_KEYS: 'acme:short:read' })).toEqual([
      expect.stringMatching(/^HOPPER_API_KEYS: the key of tenant 'acme' is shorter than 16/),
    ]);
  });

  it('accepts OAuth access tokens from one issuer, for one audience, and serves other machines with them', () => {
    const config = loadConfig(
      {
        ...base,
        HOPPER_HOST: '0.0.0.0',
        HOPPER_OAUTH_ISSUER: 'https://auth.example.com/realms/hopper',
        HOPPER_OAUTH_AUDIENCE: 'https://hopper.example.com/mcp',
      },
      '/srv',
    );
    expect(config.oauth).toEqual({
      issuer: 'https://auth.example.com/realms/hopper',
      audience: 'https://hopper.example.com/mcp',
      jwksUrl: undefined,
      tenantClaim: 'hopper_tenant',
      resource: 'https://hopper.example.com/mcp',
    });
    expect(loadConfig(base, '/srv').oauth).toBeUndefined();
  });

  it('asks for the OAuth settings that belong together, and https', () => {
    const issuer = 'https://auth.example.com';
    expect(problems({ ...base, HOPPER_OAUTH_ISSUER: issuer })).toEqual([
      expect.stringMatching(/^HOPPER_OAUTH_AUDIENCE: is required with HOPPER_OAUTH_ISSUER/),
    ]);
    expect(problems({ ...base, HOPPER_OAUTH_AUDIENCE: 'hopper' })).toEqual([
      'HOPPER_OAUTH_AUDIENCE: has no effect without HOPPER_OAUTH_ISSUER',
    ]);
    // An audience that is not a URL (an API identifier) needs the public URL to advertise.
    expect(problems({ ...base, HOPPER_OAUTH_ISSUER: issuer, HOPPER_OAUTH_AUDIENCE: 'api://hopper' })).toEqual(
      [expect.stringMatching(/^HOPPER_OAUTH_RESOURCE: is required when HOPPER_OAUTH_AUDIENCE is not a URL/)],
    );
    const apiAudience = loadConfig(
      {
        ...base,
        HOPPER_OAUTH_ISSUER: issuer,
        HOPPER_OAUTH_AUDIENCE: 'api://hopper',
        HOPPER_OAUTH_RESOURCE: 'https://hopper.example.com/mcp',
        HOPPER_OAUTH_TENANT_CLAIM: 'org_id',
      },
      '/srv',
    );
    expect(apiAudience.oauth).toMatchObject({
      resource: 'https://hopper.example.com/mcp',
      tenantClaim: 'org_id',
    });
    expect(
      problems({
        ...base,
        HOPPER_OAUTH_ISSUER: 'http://auth.example.com',
        HOPPER_OAUTH_AUDIENCE: 'https://hopper.example.com/mcp',
        HOPPER_OAUTH_JWKS_URL: 'http://auth.example.com/keys',
      }),
    ).toEqual([
      'HOPPER_OAUTH_ISSUER: must be an https:// URL (http:// only for localhost)',
      'HOPPER_OAUTH_JWKS_URL: must be an https:// URL (http:// only for localhost)',
    ]);
    // A development authorization server on this machine may speak plain http.
    expect(
      problems({
        ...base,
        HOPPER_OAUTH_ISSUER: 'http://127.0.0.1:9000',
        HOPPER_OAUTH_AUDIENCE: 'http://127.0.0.1:8080/mcp',
      }),
    ).toEqual([]);
    // Not a URL at all: one line naming the variable, not a crash.
    expect(
      problems({
        ...base,
        HOPPER_OAUTH_ISSUER: 'auth.example.com',
        HOPPER_OAUTH_AUDIENCE: 'https://hopper.example.com/mcp',
      }),
    ).toEqual([expect.stringMatching(/^HOPPER_OAUTH_ISSUER: /)]);
  });

  it('turns token introspection on with client credentials, discovering the endpoint unless it is given', () => {
    const oauth = {
      ...base,
      HOPPER_OAUTH_ISSUER: 'https://auth.example.com',
      HOPPER_OAUTH_AUDIENCE: 'https://hopper.example.com/mcp',
    };
    expect(loadConfig(oauth, '/srv').oauth?.introspection).toBeUndefined();
    const credentials = { HOPPER_OAUTH_CLIENT_ID: 'hopper', HOPPER_OAUTH_CLIENT_SECRET: 's3cret' };
    expect(loadConfig({ ...oauth, ...credentials }, '/srv').oauth?.introspection).toEqual({
      url: undefined,
      clientId: 'hopper',
      clientSecret: 's3cret',
      cacheSeconds: 30,
    });
    expect(
      loadConfig(
        {
          ...oauth,
          ...credentials,
          HOPPER_OAUTH_INTROSPECTION_URL: 'https://auth.example.com/oauth2/introspect',
          HOPPER_OAUTH_INTROSPECTION_CACHE_SECONDS: '0',
        },
        '/srv',
      ).oauth?.introspection,
    ).toMatchObject({ url: 'https://auth.example.com/oauth2/introspect', cacheSeconds: 0 });
    // A development authorization server on this machine may speak plain http.
    expect(
      problems({
        ...oauth,
        ...credentials,
        HOPPER_OAUTH_INTROSPECTION_URL: 'http://localhost:9000/introspect',
      }),
    ).toEqual([]);
  });

  it('refuses half an introspection setup, saying what to set', () => {
    const oauth = {
      ...base,
      HOPPER_OAUTH_ISSUER: 'https://auth.example.com',
      HOPPER_OAUTH_AUDIENCE: 'https://hopper.example.com/mcp',
    };
    expect(problems({ ...oauth, HOPPER_OAUTH_CLIENT_ID: 'hopper' })).toEqual([
      expect.stringMatching(/^HOPPER_OAUTH_CLIENT_SECRET: is required with HOPPER_OAUTH_CLIENT_ID/),
    ]);
    expect(problems({ ...oauth, HOPPER_OAUTH_CLIENT_SECRET: 's3cret' })).toEqual([
      expect.stringMatching(/^HOPPER_OAUTH_CLIENT_ID: is required with HOPPER_OAUTH_CLIENT_SECRET/),
    ]);
    expect(
      problems({
        ...oauth,
        HOPPER_OAUTH_INTROSPECTION_URL: 'https://auth.example.com/introspect',
        HOPPER_OAUTH_INTROSPECTION_CACHE_SECONDS: '10',
      }),
    ).toEqual([
      expect.stringMatching(
        /^HOPPER_OAUTH_INTROSPECTION_URL: has no effect without HOPPER_OAUTH_CLIENT_ID and HOPPER_OAUTH_CLIENT_SECRET/,
      ),
      expect.stringMatching(
        /^HOPPER_OAUTH_INTROSPECTION_CACHE_SECONDS: has no effect without HOPPER_OAUTH_CLIENT_ID and HOPPER_OAUTH_CLIENT_SECRET/,
      ),
    ]);
    // Without an issuer, none of it means anything.
    expect(
      problems({ ...base, HOPPER_OAUTH_CLIENT_ID: 'hopper', HOPPER_OAUTH_CLIENT_SECRET: 's3cret' }),
    ).toEqual([
      'HOPPER_OAUTH_CLIENT_ID: has no effect without HOPPER_OAUTH_ISSUER',
      'HOPPER_OAUTH_CLIENT_SECRET: has no effect without HOPPER_OAUTH_ISSUER',
    ]);
  });

  it('bounds the introspection cache and asks for https', () => {
    const on = {
      ...base,
      HOPPER_OAUTH_ISSUER: 'https://auth.example.com',
      HOPPER_OAUTH_AUDIENCE: 'https://hopper.example.com/mcp',
      HOPPER_OAUTH_CLIENT_ID: 'hopper',
      HOPPER_OAUTH_CLIENT_SECRET: 's3cret',
    };
    for (const value of ['301', '-1', '1.5', 'soon']) {
      expect(problems({ ...on, HOPPER_OAUTH_INTROSPECTION_CACHE_SECONDS: value }), value).toEqual([
        expect.stringMatching(/^HOPPER_OAUTH_INTROSPECTION_CACHE_SECONDS: /),
      ]);
    }
    expect(problems({ ...on, HOPPER_OAUTH_INTROSPECTION_CACHE_SECONDS: '300' })).toEqual([]);
    expect(problems({ ...on, HOPPER_OAUTH_INTROSPECTION_URL: 'http://auth.example.com/introspect' })).toEqual(
      ['HOPPER_OAUTH_INTROSPECTION_URL: must be an https:// URL (http:// only for localhost)'],
    );
  });

  it('protects the gateway by default, rate-limits tenants only when asked, and turns each limit off with 0', () => {
    expect(loadConfig(base, '/srv').limits).toEqual({
      rateLimit: undefined,
      socketRateLimit: { perSecond: 20, burst: 40 },
      maxJobsPerTenant: 1_000,
      maxQueueDepth: 10_000,
      maxInflight: 1_000,
      maxEventLoopLagMs: 250,
      pathReads: { maxConcurrent: 2, maxQueued: 64 },
      subscriptions: { perTenant: 16, total: 1_024 },
    });
    expect(loadConfig({ ...base, HOPPER_RATE_LIMIT_PER_SECOND: '50' }, '/srv').limits.rateLimit).toEqual({
      perSecond: 50,
      burst: 100,
    });
    const tuned = loadConfig(
      {
        ...base,
        HOPPER_RATE_LIMIT_PER_SECOND: '0.5',
        HOPPER_RATE_LIMIT_BURST: '3',
        HOPPER_SOCKET_RATE_LIMIT_PER_SECOND: '0',
        HOPPER_MAX_JOBS_PER_TENANT: '0',
        HOPPER_MAX_QUEUE_DEPTH: '0',
        HOPPER_MAX_INFLIGHT: '0',
        HOPPER_SHED_EVENT_LOOP_LAG_MS: '0',
        HOPPER_MAX_PATH_READS: '0',
        HOPPER_MAX_PATH_READ_QUEUE: '0',
        HOPPER_MAX_SUBSCRIPTIONS_PER_TENANT: '0',
        HOPPER_MAX_SUBSCRIPTIONS: '0',
      },
      '/srv',
    ).limits;
    expect(tuned).toEqual({
      rateLimit: { perSecond: 0.5, burst: 3 },
      socketRateLimit: undefined,
      maxJobsPerTenant: 0,
      maxQueueDepth: 0,
      maxInflight: 0,
      maxEventLoopLagMs: 0,
      pathReads: { maxConcurrent: 0, maxQueued: 0 },
      subscriptions: { perTenant: 0, total: 0 },
    });
    expect(
      loadConfig(
        { ...base, HOPPER_SOCKET_RATE_LIMIT_PER_SECOND: '5', HOPPER_SOCKET_RATE_LIMIT_BURST: '8' },
        '/srv',
      ).limits.socketRateLimit,
    ).toEqual({ perSecond: 5, burst: 8 });
    expect(problems({ ...base, HOPPER_RATE_LIMIT_BURST: '10', HOPPER_MAX_INFLIGHT: '-1' })).toEqual([
      expect.stringMatching(/^HOPPER_MAX_INFLIGHT: /),
      expect.stringMatching(/^HOPPER_RATE_LIMIT_BURST: has no effect without HOPPER_RATE_LIMIT_PER_SECOND/),
    ]);
    // The socket rate has a default: a burst alone is fine, a burst with the rate turned off is not.
    expect(problems({ ...base, HOPPER_SOCKET_RATE_LIMIT_BURST: '60' })).toEqual([]);
    expect(
      problems({ ...base, HOPPER_SOCKET_RATE_LIMIT_PER_SECOND: '0', HOPPER_SOCKET_RATE_LIMIT_BURST: '60' }),
    ).toEqual([expect.stringMatching(/^HOPPER_SOCKET_RATE_LIMIT_BURST: has no effect when/)]);
  });
});
