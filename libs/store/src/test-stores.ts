import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStoreWriter, type StoreWriter, type StoreWriterOptions } from './roles.ts';
import { StoreError } from './store-error.ts';

/** A test's store directory and the stores it opened on it (see {@link tempStores}). */
export interface TempStores {
  /** This test's directory, fresh for every test. */
  readonly dir: string;
  /** Opens a store on `dir`; it is closed after the test, before the directory is removed. */
  readonly open: (options?: Omit<StoreWriterOptions, 'uri'>) => Promise<StoreWriter>;
  /** For `beforeEach`: makes the test's directory. */
  readonly setUp: () => Promise<void>;
  /** For `afterEach`: closes every store the test opened, then removes its directory. */
  readonly tearDown: () => Promise<void>;
}

/**
 * For the store's tests: a fresh directory for each test and, after it, every store the test
 * opened closed and the directory removed. A test file registers `setUp` and `tearDown` with
 * `beforeEach` and `afterEach` (not done here, so that this file imports nothing the production
 * image lacks: it sits beside the store's code).
 */
export function tempStores(name: string): TempStores {
  let dir: string | undefined;
  const opened: StoreWriter[] = [];
  const current = (): string => {
    if (dir === undefined) throw new Error('tempStores: the directory exists only inside a test');
    return dir;
  };
  return {
    get dir() {
      return current();
    },
    setUp: async () => {
      dir = await mkdtemp(join(tmpdir(), `hopper-${name}-`));
    },
    tearDown: async () => {
      await Promise.all(opened.splice(0).map((store) => store.close()));
      if (dir) await rm(dir, { recursive: true, force: true });
      dir = undefined;
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
