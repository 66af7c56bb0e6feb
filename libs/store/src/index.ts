// By role: gateways open a reader, workers a writer (see roles.ts). The writer's names are for the
// worker, tests and the bench only (a lint rule in eslint.config.js).
export { openStoreReader, openStoreWriter } from './roles.ts';
export type { StoreReader, StoreReaderOptions, StoreWriter, StoreWriterOptions } from './roles.ts';
export type { CacheUsage, WriteOptions } from './store.ts';
export { StoreError } from './store-error.ts';
export type { StoreErrorCode } from './store-error.ts';
export { METADATA_KEY_PATTERN } from './metadata.ts';
export { DEFAULT_TEXT_WEIGHT, fuseHits } from './fusion.ts';
export type {
  ChunkInput,
  ChunkPage,
  ChunkRecord,
  DocumentInput,
  DocumentPage,
  DocumentRecord,
  ListChunksOptions,
  ListedDocument,
  ListDocumentsOptions,
  Metadata,
  MetadataFilter,
  MetadataValue,
  SearchHit,
  SearchMode,
  SearchQuery,
  SearchSignal,
} from './types.ts';
export type { CommitStats } from './writer.ts';
export type { MaintenanceStats } from './maintenance.ts';
export type { DocumentLocks } from './group-commit.ts';
export type { DocumentListing } from './listing.ts';
export type { DocumentRecordCopies } from './record-copies.ts';
export type { ClockReading, CommitClock } from './commit-clock.ts';
export type { ListPosition } from './cursor.ts';
