import { connect } from '@lancedb/lancedb';
import { Redis } from 'ioredis';
import { createKeys, parseProgressEvent, type ProgressEvent } from '@hopper/contracts';

/** The chunk rows the store holds for one document, read from the LanceDB tables themselves. */
export interface StoredChunks {
  rows: number;
  /** Distinct chunk ids: fewer than `rows` means duplicated chunks. */
  distinctIds: number;
  /** The versions the rows belong to, ascending and distinct. */
  versions: number[];
  /** Chunk texts in chunk order (of the newest version), to compare versions before and after. */
  texts: string[];
}

/**
 * Opens the store directory the way the worker does and reads every chunk row of the document,
 * from both chunk tables (the main table and the delta of recent writes). A row a move has copied
 * into the main table but not yet let go from the delta is one row, not a duplicate.
 */
export async function storedChunks(storeUri: string, documentId: string): Promise<StoredChunks> {
  const db = await connect(storeUri, { readConsistencyInterval: 0 });
  try {
    const byKey = new Map<string, { chunk_id: string; version: number; chunk_index: number; text: string }>();
    let rows = 0;
    const tables = await db.tableNames();
    for (const name of ['chunks', 'chunks_delta'].filter((table) => tables.includes(table))) {
      const table = await db.openTable(name);
      try {
        const found = (await table
          .query()
          .where(`document_id = '${documentId}'`)
          .select(['chunk_id', 'version', 'chunk_index', 'text'])
          .toArray()) as { chunk_id: string; version: number; chunk_index: number; text: string }[];
        for (const row of found) {
          const key = `${row.version}/${row.chunk_id}`;
          if (name === 'chunks_delta' && byKey.has(key)) continue;
          byKey.set(key, row);
          rows++;
        }
      } finally {
        table.close();
      }
    }
    const all = [...byKey.values()];
    const versions = [...new Set(all.map((row) => row.version))].sort((a, b) => a - b);
    const newest = versions.at(-1);
    return {
      rows,
      distinctIds: new Set(all.map((row) => row.chunk_id)).size,
      versions,
      texts: all
        .filter((row) => row.version === newest)
        .sort((a, b) => a.chunk_index - b.chunk_index)
        .map((row) => row.text),
    };
  } finally {
    db.close();
  }
}

/**
 * Every progress event of one job, as any subscriber sees them: a raw subscription on the job's
 * channel (the local tenant's), so the test counts what was really published.
 */
export class JobEvents {
  readonly events: (ProgressEvent & { at: number })[] = [];
  readonly #redis: Redis;

  private constructor(redis: Redis) {
    this.#redis = redis;
  }

  static async follow(redisUrl: string, prefix: string, jobId: string): Promise<JobEvents> {
    const redis = new Redis(redisUrl);
    // A test that stops Redis on purpose sees connection errors here; ioredis reconnects.
    redis.on('error', () => undefined);
    const follower = new JobEvents(redis);
    redis.on('message', (_channel: string, message: string) => {
      const event = parseProgressEvent(message);
      if (event) follower.events.push({ ...event, at: Date.now() });
    });
    await redis.subscribe(createKeys(prefix).progressChannel('local', jobId));
    return follower;
  }

  count(state: ProgressEvent['state']): number {
    return this.events.filter((event) => event.state === state).length;
  }

  /** The first event after `since` that matches, if any arrived. */
  first(
    since: number,
    match: (event: ProgressEvent) => boolean,
  ): (ProgressEvent & { at: number }) | undefined {
    return this.events.find((event) => event.at >= since && match(event));
  }

  close(): void {
    this.#redis.disconnect();
  }
}

/**
 * Prints one line of the fault table (picked up from the test output, like the progress-latency
 * figures): what was lost or duplicated and how long the system took to recover.
 */
export function reportFault(fault: string, figures: Record<string, number | string>): void {
  const parts = Object.entries(figures).map(([name, value]) => `${name} ${value}`);
  console.log(`fault ${fault}: ${parts.join(', ')}`);
}

/** Polls `check` until it returns a value other than undefined (the test's timeout bounds it). */
export async function eventually<T>(check: () => Promise<T | undefined>, everyMs = 25): Promise<T> {
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
