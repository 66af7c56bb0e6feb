/**
 * Why a store operation failed, stable enough for callers to branch on:
 * - `model_mismatch`: the vectors come from another embedding model than the collection's.
 * - `dimension_mismatch`: the vectors' length differs from the store's vector column.
 * - `invalid_filter`: a metadata filter key or value the store cannot express.
 * - `invalid_input`: a document, chunk, metadata or query argument the store refuses.
 * - `invalid_cursor`: a `listDocuments` cursor this store did not produce.
 * - `not_ready`: the store cannot answer this kind of query yet (no full-text index built yet).
 * - `unavailable`: the storage engine failed or the store is closed; retrying may help.
 */
export type StoreErrorCode =
  | 'model_mismatch'
  | 'dimension_mismatch'
  | 'invalid_filter'
  | 'invalid_input'
  | 'invalid_cursor'
  | 'not_ready'
  | 'unavailable';

/**
 * The only error the store throws. Messages are written for the person calling the MCP tool and
 * never contain storage paths; the engine's original error, when there is one, is kept as `cause`
 * for logs.
 */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Runs an engine call, turning anything that is not already a StoreError into `unavailable`. */
export async function guard<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof StoreError) throw error;
    throw new StoreError('unavailable', `Document store ${operation} failed`, { cause: error });
  }
}
