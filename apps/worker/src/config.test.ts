import { describe, expect, it } from 'vitest';
import { ConfigError } from '@hopper/contracts';
import { loadConfig } from './config.ts';

describe('worker loadConfig', () => {
  it('defaults concurrency and drain budget', () => {
    expect(loadConfig({ REDIS_URL: 'redis://localhost:6379' }, '/w')).toMatchObject({
      concurrency: 2,
      drainMs: 25_000,
      storeUri: '/w/.hopper/store',
    });
  });

  it("ignores the gateway's variables, so both may share one environment", () => {
    const shared = {
      REDIS_URL: 'redis://localhost:6379',
      // Each would stop a gateway; none is the worker's concern.
      HOPPER_API_KEYS: 'acme:short',
      HOPPER_OAUTH_AUDIENCE: 'hopper',
      HOPPER_INGEST_ROOTS: 'relative/docs',
      HOPPER_CACHE_L1_MAX_MB: '0',
    };
    const config = loadConfig(shared, '/w');
    expect(config).toMatchObject({ concurrency: 2, storeUri: '/w/.hopper/store' });
    expect(config).not.toHaveProperty('apiKeys');
    expect(config).not.toHaveProperty('oauth');
    expect(config).not.toHaveProperty('ingestRoots');
  });

  it('rejects a concurrency that is not a positive integer', () => {
    expect(() => loadConfig({ REDIS_URL: 'redis://localhost:6379', HOPPER_WORKER_CONCURRENCY: '0' })).toThrow(
      ConfigError,
    );
    expect(() =>
      loadConfig({ REDIS_URL: 'redis://localhost:6379', HOPPER_WORKER_CONCURRENCY: 'many' }),
    ).toThrow(/HOPPER_WORKER_CONCURRENCY/);
  });

  it('gives the parse sandbox 2 threads of 512 MB and 60 s unless told otherwise', () => {
    expect(loadConfig({ REDIS_URL: 'redis://localhost:6379' }).parseSandbox).toEqual({
      maxHeapMb: 512,
      timeoutMs: 60_000,
      threads: 2,
    });
    expect(
      loadConfig({
        REDIS_URL: 'redis://localhost:6379',
        HOPPER_WORKER_PARSE_HEAP_MB: '256',
        HOPPER_WORKER_PARSE_TIMEOUT_MS: '5000',
        HOPPER_WORKER_PARSE_THREADS: '1',
      }).parseSandbox,
    ).toEqual({ maxHeapMb: 256, timeoutMs: 5_000, threads: 1 });
    expect(() =>
      loadConfig({ REDIS_URL: 'redis://localhost:6379', HOPPER_WORKER_PARSE_HEAP_MB: '0' }),
    ).toThrow(/HOPPER_WORKER_PARSE_HEAP_MB/);
  });
});
