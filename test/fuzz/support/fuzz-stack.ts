import fc from 'fast-check';
import { expect } from 'vitest';
import { TestStack } from '../../support/stack.ts';
import { outcomeOf, postRaw, toolCallBody, type Outcome } from './raw-mcp.ts';

/** A document in its own collection that no fuzz case names: "a normal search still works". */
const CANARY = {
  documentId: 'canary-lighthouse',
  collection: 'canary',
  content: '# Lighthouse keeping\n\nThe keeper trims the wick of the paraffin lamp every four hours.',
  query: 'keeper trims the wick',
};

const SEED_DOCUMENTS = [
  {
    documentId: 'fog-signals',
    content: 'In fog the keeper sounds a diaphone horn twice a minute.',
    lang: 'en',
  },
  { documentId: 'leuchtturm', content: 'Der Leuchtturmwärter putzt die Linse jeden Morgen.', lang: 'de' },
];

export interface FuzzStack {
  stack: TestStack;
  /** Real ids, so generated calls sometimes reach a handler's work and not only its validation. */
  ids: { jobIds: string[]; documentIds: string[] };
  /** One MCP tool call as raw JSON-RPC (the arguments as JSON text, sent as is). */
  call(name: string, argsJson: string): Promise<Outcome>;
  /**
   * The gateway is alive, answers /healthz and /readyz, finds the canary document, and logged no
   * error: every bad input so far was refused as the client's mistake, none became our failure.
   */
  expectHealthy(): Promise<void>;
}

let nextId = 1;

/** A gateway and a worker with the canary and a few seed documents and jobs; `env` tunes the gateway. */
export async function startFuzzStack(redisUrl: string, env: Record<string, string> = {}): Promise<FuzzStack> {
  const stack = await TestStack.start({ redisUrl, env });
  const call = async (name: string, argsJson: string): Promise<Outcome> => {
    const id = nextId++;
    return outcomeOf(await postRaw(stack.url, toolCallBody(id, name, argsJson)), id);
  };
  const ingest = async (args: Record<string, unknown>) => {
    const outcome = await call('ingest_document', JSON.stringify(args));
    if (outcome.kind !== 'success') throw new Error(`seed failed: ${JSON.stringify(outcome)}`);
    return outcome.structured as { jobId: string; documentId: string };
  };

  const seeded = await Promise.all([
    ingest({ content: CANARY.content, documentId: CANARY.documentId, collection: CANARY.collection }),
    ...SEED_DOCUMENTS.map((doc) =>
      ingest({ content: doc.content, documentId: doc.documentId, metadata: { lang: doc.lang } }),
    ),
    // A job still queued or running when the fuzzing starts, for cancel_job and subscriptions.
    ingest({ content: 'A long shift. '.repeat(2_000), documentId: 'night-shift', wait: false }),
  ]);
  const jobIds = seeded.map((job) => job.jobId);

  const base = stack.url.replace(/\/mcp$/, '');
  return {
    stack,
    ids: { jobIds, documentIds: [...SEED_DOCUMENTS.map((d) => d.documentId), 'night-shift', 'missing-doc'] },
    call,
    async expectHealthy() {
      for (const gateway of stack.gateways) {
        expect(gateway.process.exitCode, 'gateway exited').toBeNull();
        expect(gateway.process.signalCode, 'gateway killed').toBeNull();
      }
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const search = await call(
        'search',
        JSON.stringify({ query: CANARY.query, collection: CANARY.collection }),
      );
      if (search.kind !== 'success') throw new Error(`the canary search failed: ${JSON.stringify(search)}`);
      const { results } = search.structured as { results: { documentId: string }[] };
      expect(results.map((r) => r.documentId)).toContain(CANARY.documentId);
      expect(errorLines(stack)).toEqual([]);
    },
  };
}

/** Log lines at level error or above (pino: 50+) from the stack's gateways. */
function errorLines(stack: TestStack): string[] {
  return stack.gateways
    .flatMap((g) => g.lines)
    .filter((line) => {
      try {
        return (JSON.parse(line) as { level?: number }).level! >= 50;
      } catch {
        return false;
      }
    });
}

/**
 * Runs one async property for `numRuns` generated cases and prints, on one line, how many cases
 * ran and how they ended (`tally` names each case's outcome, e.g. `invalid_argument`).
 */
export async function fuzz<T>(
  name: string,
  arbitrary: fc.Arbitrary<T>,
  check: (value: T) => Promise<string>,
  numRuns: number,
): Promise<void> {
  let cases = 0;
  const tally = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(arbitrary, async (value) => {
      cases += 1;
      const label = await check(value);
      tally.set(label, (tally.get(label) ?? 0) + 1);
    }),
    { numRuns },
  );
  const counts = [...tally.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([label, n]) => `${label} ${n}`)
    .join(', ');
  console.log(`fuzz ${name}: ${cases} cases (${counts})`);
}
