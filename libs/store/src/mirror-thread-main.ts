/**
 * The search mirror's thread (see {@link MirrorThread}): it opens its own connection to the store,
 * loads and follows the chunk tables, and answers the gateway's searches from memory.
 */
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { connect, Session } from '@lancedb/lancedb';
import type { MirrorMessage, MirrorRequest, MirrorThreadData, MirrorTick } from './mirror-thread.ts';
import { SearchMirror } from './search-mirror.ts';

/**
 * The thread's LanceDB caches: it reads manifests and data pages, never an index (LanceDB's own
 * defaults, 6 GB and 1 GB, would grow with every commit the mirror follows).
 */
const INDEX_CACHE_BYTES = 16 * 1024 * 1024;
const METADATA_CACHE_BYTES = 32 * 1024 * 1024;

const port = parentPort;
if (port === null) throw new Error('mirror-thread-main.ts runs as a worker thread');
const data = workerData as MirrorThreadData;
const post = (message: MirrorMessage): void => port.postMessage(message);

const db = await connect({
  uri: data.uri,
  readConsistencyInterval: 0,
  ...(data.storageOptions ? { storageOptions: data.storageOptions } : {}),
  session: new Session(BigInt(INDEX_CACHE_BYTES), BigInt(METADATA_CACHE_BYTES)),
});
const mirror = new SearchMirror(db, {
  maxRows: data.maxRows,
  onReady: (stats) => post({ kind: 'ready', ...stats }),
  onOff: (reason) => post({ kind: 'off', reason }),
  onSize: (rows) => {
    // This thread's heap and what lives outside it (the vectors' WebAssembly memory).
    const heap = getHeapStatistics();
    post({ kind: 'size', rows, bytes: heap.used_heap_size + heap.external_memory });
  },
  onUpdate: (source) => post({ kind: 'update', source }),
  onError: (error) =>
    post({ kind: 'error', message: error instanceof Error ? error.message : String(error) }),
});
mirror.start();

port.on('message', (request: MirrorRequest | MirrorTick | 'close') => {
  if (request === 'close') {
    void shutDown();
    return;
  }
  if ('kind' in request) {
    mirror.tick(request);
    return;
  }
  mirror.current(request.freshness).then(
    (index) =>
      post({
        kind: 'result',
        id: request.id,
        result: index?.answer(request.query, request.mode, request.topK),
      }),
    () => post({ kind: 'result', id: request.id, result: undefined }),
  );
});

/**
 * Ends the thread once no LanceDB read is in flight: a thread stopped in the middle of one (by
 * `Worker.terminate()`) can leave the native library calling back into it.
 */
async function shutDown(): Promise<void> {
  try {
    await mirror.close();
    db.close();
  } finally {
    // In a worker thread this ends the thread, not the process.
    process.exit(0);
  }
}
