import { startHopperStack } from './hopper-stack.ts';
import type { PreloadedIngestSizes } from './profiles.ts';
import type { ScenarioResult } from './scenario.ts';
import {
  BATCH_PER_CALL,
  readCollection,
  syntheticCollection,
  userIngest,
  type CorpusDocument,
} from './user-ingest.ts';

/**
 * The store moves its recent writes (the delta) into the main table after this long without one
 * (the store's default).
 */
const QUIET_MOVE_MS = 30_000;

/** The collection both phases write and the readers read. */
const COLLECTION = 'user-ingest';

/**
 * The user-ingest measurement on a store already holding ~100k chunks, as issue #15 asks: on a
 * fresh stack with the default limits, copies of SciFact (each document id suffixed with its copy's
 * number, title and text unchanged) sent as batches through `POST /v1/documents/batch` with no
 * readers; a quiet pause, so the store moves its recent writes into the main table; then one more
 * copy's first documents one per call (`POST /v1/documents`, 8 callers) while 10 MCP clients read,
 * and the same reads after the last job. Both phases are {@link userIngest} runs.
 */
export async function userIngest100kScenario(options: {
  sizes: PreloadedIngestSizes;
  datasetsDir: string;
  afterMs: number;
  /** Where the gateways write V8 CPU profiles (`--cpu-prof`), if anywhere. */
  cpuProfileDir?: string;
  /** Added to the gateway's environment (`--gateway-env`, an A/B switch). */
  gatewayEnv?: Record<string, string>;
  log: (line: string) => void;
}): Promise<ScenarioResult> {
  const { copies, documentsPerCopy, pauseMs } = options.sizes;
  const count = Math.max(documentsPerCopy, options.sizes.documents);
  const collection = await readCollection(`${options.datasetsDir}/scifact`, count);
  const source = collection ? 'SciFact' : 'synthetic abstracts (SciFact not found)';
  const { documents, queries } = collection ?? syntheticCollection(count);
  const copy = (n: number, from: CorpusDocument[]) => from.map((d) => ({ ...d, id: `${d.id}-copy${n}` }));
  const perCopy = documents.slice(0, documentsPerCopy);
  const preloaded = Array.from({ length: copies }, (_, i) => copy(i + 1, perCopy)).flat();
  const measured = copy(copies + 1, documents.slice(0, options.sizes.documents));
  // At least two batches, so a batch is always in flight while the next is sent.
  const batch = Math.max(1, Math.min(BATCH_PER_CALL, Math.ceil(preloaded.length / 2)));

  const stack = await startHopperStack(undefined, {
    defaultLimits: true,
    ...(options.cpuProfileDir ? { cpuProfileDir: options.cpuProfileDir } : {}),
    ...(options.gatewayEnv ? { gatewayEnv: options.gatewayEnv } : {}),
  });
  const baseUrl = new URL(stack.mcpUrl).origin;
  try {
    options.log(
      `user ingest at ~100k: preloading ${copies} copies of ${perCopy.length} ${source} documents, ${batch} per call`,
    );
    const preload = await userIngest({
      baseUrl,
      documents: preloaded,
      queries,
      submitters: 2,
      readers: 0,
      afterMs: 0,
      collection: COLLECTION,
      perCall: batch,
      log: options.log,
    });
    options.log(`user ingest at ~100k: ${preload.chunks} chunks stored; ${pauseMs / 1000} s pause`);
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    const run = await userIngest({
      baseUrl,
      documents: measured,
      queries,
      submitters: 8,
      readers: 10,
      afterMs: options.afterMs,
      collection: COLLECTION,
      perCall: 1,
      log: options.log,
    });
    const gateway = await gatewayState(baseUrl);
    const chunks = preload.chunks;
    const size = chunks >= 1_000 ? `~${Math.round(chunks / 1_000)}k` : String(chunks);
    return {
      id: 'user-ingest-100k',
      title: `user ingest at ${size} chunks (${copies} copies of ${source} preloaded as REST batches)`,
      description:
        `On a fresh stack with the default limits: ${copies} copies of ${perCopy.length} ${source} documents ` +
        `(${preload.documents} documents, ${chunks} chunks; ids suffixed with the copy's number) sent as ` +
        `batches of ${batch} (POST /v1/documents/batch, 2 callers, no readers); ${Math.round(pauseMs / 1000)} s ` +
        (pauseMs >= QUIET_MOVE_MS
          ? 'without writes, so the store moves its recent writes into the main table; '
          : 'without writes (too short for the store to move its recent writes into the main table, which ' +
            `it does after ${QUIET_MOVE_MS / 1000} s without one); `) +
        `then ${measured.length} ` +
        'more (another copy) one per call (REST POST /v1/documents, wait: false, 8 callers, 429s waited out) ' +
        'while 10 MCP clients call search (every query new, so uncached), get_document (of the documents sent ' +
        'so far in this phase) and list_documents in turn; then the same reads once the last job has completed. ' +
        `At the end the gateway's resident memory was ${gateway.rssMb} MB (its search mirror's thread: ` +
        `${gateway.mirrorMb} MB); searches answered from the in-memory mirror: ${gateway.mirror}, by LanceDB: ` +
        `${gateway.lancedb}.`,
      measurements: [],
      ratios: [],
      userIngest: [{ ...preload, label: `preload, ${batch} per call` }, run],
    };
  } finally {
    await stack.stop();
  }
}

/** The gateway's resident memory and its searches by engine, from its `/metrics`. */
async function gatewayState(
  baseUrl: string,
): Promise<{ rssMb: number; mirrorMb: number; mirror: number; lancedb: number }> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  // A sample's line: its name, its labels (the process's own `service` among them), its value.
  const value = (name: string, label = ''): number =>
    Number(
      text
        .split('\n')
        .find((line) => line.startsWith(`${name}{`) && line.includes(label))
        ?.split(' ')
        .at(-1) ?? 0,
    );
  return {
    rssMb: Math.round(value('process_resident_memory_bytes') / (1024 * 1024)),
    mirrorMb: Math.round(value('hopper_search_mirror_bytes') / (1024 * 1024)),
    mirror: value('hopper_store_searches_total', 'engine="mirror"'),
    lancedb: value('hopper_store_searches_total', 'engine="lancedb"'),
  };
}
