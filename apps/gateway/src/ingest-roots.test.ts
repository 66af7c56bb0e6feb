import { describe, expect, it } from 'vitest';
import { ConfigError } from '@hopper/contracts';
import { loadConfig } from './config.ts';

const load = (value: string | undefined) =>
  loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', HOPPER_INGEST_ROOTS: value }, '/work').ingestRoots;

describe('HOPPER_INGEST_ROOTS', () => {
  it('is empty when unset or blank: path ingestion is off', () => {
    expect(load(undefined)).toEqual([]);
    expect(load('')).toEqual([]);
    expect(load(' , ')).toEqual([]);
  });

  it('takes comma-separated absolute directories, normalized', () => {
    expect(load('/srv/docs, /home/me/notes/../papers/')).toEqual(['/srv/docs', '/home/me/papers']);
  });

  it('refuses relative roots, naming the variable', () => {
    expect(() => load('/srv/docs,docs')).toThrow(ConfigError);
    expect(() => load('docs')).toThrow(/HOPPER_INGEST_ROOTS.*absolute/);
  });
});
