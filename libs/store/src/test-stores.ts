import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { openStoreWriter, type StoreWriter, type StoreWriterOptions } from './roles.ts';
import { StoreError } from './store-error.ts';

/** A test's store directory and the stores it opened on it (see {@link useTempStores}). */
export interface TempStores {
  /** This test's directory, fresh for every test. */
  readonly dir: string;
  /** Opens a store on `dir`; it is closed after the test, before the directory is removed. */
  readonly open: (options?: Omit<StoreWriterOptions, 'uri'>) => Promise<StoreWriter>;
}

/**
 * For the store's tests: a fresh directory before each test and, after it, every store the test
 * opened closed and the directory removed. Call at the top level of a test file.
 */
export function useTempStores(name: string): TempStores {
  let dir: string | undefined;
  const opened: StoreWriter[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), `hopper-${name}-`));
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });
  const current = (): string => {
    if (dir === undefined) throw new Error('useTempStores: the directory exists only inside a test');
    return dir;
  };
  return {
    get dir() {
      return current();
    },
    open: async (options = {}) => {
      const store = await openStoreWriter({ uri: current(), ...options });
      opened.push(store);
      return store;
    },
  };
}

/** The StoreError `promise` rejects with; anything else (or no rejection) fails the test. */
export async function rejection(promise: Promise<unknown>): Promise<StoreError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof StoreError)) throw new Error(`expected a StoreError, got ${String(error)}`);
  return error;
}
