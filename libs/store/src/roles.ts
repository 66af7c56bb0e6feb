import { openStore, type Store, type StoreOptions } from './store.ts';

/**
 * The store as a gateway holds it: reads only. A gateway never writes, deletes or runs maintenance
 * (the worker does), so those methods are not on this type, and the object {@link openStoreReader}
 * returns does not have them either.
 */
export type StoreReader = Pick<
  Store,
  'getDocument' | 'getDocuments' | 'listDocuments' | 'listChunks' | 'search' | 'ping' | 'cacheUsage' | 'close'
>;

/**
 * The store as a worker holds it: everything a reader does, plus writes (`replaceDocument`,
 * `deleteDocument`), maintenance (`maintain`; compaction and index builds after writes) and the
 * migration of older tables, which the first write runs. Only the worker (and tests and the bench,
 * which build stores) may import it: the lint step says so (eslint.config.js).
 */
export type StoreWriter = Store;

/** What opening a reader takes: where the store is, how fresh reads are, and the read-side bounds. */
export type StoreReaderOptions = Pick<
  StoreOptions,
  | 'uri'
  | 'readConsistencyIntervalSeconds'
  | 'storageOptions'
  | 'maxConcurrentSearches'
  | 'hybridTextTailScanRows'
  | 'searchMirror'
  | 'onSearch'
  | 'listing'
  | 'recordCopies'
  | 'commitClock'
  | 'indexCacheBytes'
  | 'metadataCacheBytes'
>;

/** What opening a writer takes: the reader's options plus the writer-side ones (batching, maintenance, locks). */
export type StoreWriterOptions = StoreOptions;

const READ_METHODS = [
  'getDocument',
  'getDocuments',
  'listDocuments',
  'listChunks',
  'search',
  'ping',
  'cacheUsage',
  'close',
] as const satisfies readonly (keyof StoreReader)[];

/**
 * Opens the store for reading (without creating anything). Every read sees the latest commit unless
 * `readConsistencyIntervalSeconds` says otherwise: the writer is another process.
 */
export async function openStoreReader(options: StoreReaderOptions): Promise<StoreReader> {
  const store = await openStore(options);
  const reader = {} as Record<keyof StoreReader, unknown>;
  for (const method of READ_METHODS) reader[method] = store[method].bind(store);
  // Not frozen: a Proxy (telemetry's traced) may not wrap a frozen object's methods.
  return reader as StoreReader;
}

/** Opens the store for writing (tables appear on the first write). One per worker process. */
export function openStoreWriter(options: StoreWriterOptions): Promise<StoreWriter> {
  return openStore(options);
}
