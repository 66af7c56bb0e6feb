import { writeReportFiles } from '@hopper/harness';
import type { Reference } from './dataset.ts';
import type { EvalResult } from './run.ts';

/** Settings the figures depend on, written into the report so a reader can reproduce them. */
export interface ReportContext {
  command: string;
  reference: Reference;
  notes: string[];
}

/** Writes `eval-<dataset>.json` and `eval-<dataset>.md` into `directory`; returns their paths. */
export async function writeReport(
  directory: string,
  result: EvalResult,
  context: ReportContext,
): Promise<string[]> {
  const published = context.reference.published;
  const hybrid = result.modes.find((m) => m.mode === 'hybrid');
  const json = {
    ...result,
    reference: context.reference,
    hybridVsPublishedBm25: published && hybrid ? round(hybrid.ndcg10 - published.ndcg10) : null,
    command: context.command,
    notes: context.notes,
  };
  return writeReportFiles(directory, `eval-${result.dataset}`, markdown(result, context), json);
}

function markdown(result: EvalResult, context: ReportContext): string {
  const { published, baselines } = context.reference;
  const hybrid = result.modes.find((m) => m.mode === 'hybrid');
  const text = result.modes.find((m) => m.mode === 'text');
  const lines = [
    `# Retrieval quality: ${result.dataset}`,
    '',
    `Measured ${result.startedAt} with \`${context.command}\`: the collection ingested through the real path`,
    '(`npm start` launcher, MCP `ingest_document` with `wait: false`, queue, worker, LanceDB), then every judged',
    `query sent to \`search\` in each mode (topK 50 chunks, documents ranked by their best chunk).`,
    '',
    '| mode | nDCG@10 | recall@10 | queries | search p50 | search p95 |',
    '| --- | --- | --- | --- | --- | --- |',
    ...result.modes.map(
      (m) =>
        `| ${m.mode} | ${m.ndcg10.toFixed(4)} | ${m.recall10.toFixed(4)} | ${m.queries} | ${m.latencyMs.p50.toFixed(1)} ms | ${m.latencyMs.p95.toFixed(1)} ms |`,
    ),
    '',
    '## Against the reference',
    '',
  ];
  if (published) {
    const delta = hybrid ? hybrid.ndcg10 - published.ndcg10 : undefined;
    lines.push(
      `Published BM25 nDCG@10 (from the dataset README): **${published.ndcg10.toFixed(3)}** — ${published.system}; ${published.source}.`,
      '',
      delta === undefined
        ? ''
        : delta >= 0
          ? `Hybrid (the default mode, built-in offline embedder) is **${delta.toFixed(4)} above** it.`
          : `Hybrid (the default mode, built-in offline embedder) is **${(-delta).toFixed(4)} below** it: it does not reach the published BM25 figure.`,
    );
  } else {
    lines.push('The dataset README gives **no published BM25 nDCG@10** for this collection.');
  }
  if (baselines.length > 0) {
    lines.push('', "The README's local BM25 sanity checks:", '');
    for (const baseline of baselines) lines.push(`- ${baseline.setting}: ${baseline.ndcg10.toFixed(3)}`);
  }
  if (hybrid && text) {
    const gain = hybrid.ndcg10 - text.ndcg10;
    lines.push(
      '',
      `Hybrid against Hopper's own full-text (BM25) mode: ${gain >= 0 ? '+' : ''}${gain.toFixed(4)} nDCG@10.`,
    );
  }
  lines.push(
    '',
    '## Run',
    '',
    `- embedding model: \`${result.model}\``,
    `- documents: ${result.documents} in the corpus, ${result.ingested} ingested into ${result.chunks} chunks in ${result.ingestSeconds.toFixed(1)} s (${(result.ingested / result.ingestSeconds).toFixed(0)} docs/s)`,
    ...(result.skipped.length > 0
      ? [`- not ingested: ${result.skipped.map((s) => `${s.id} (${s.reason})`).join('; ')}`]
      : []),
    ...context.notes.map((note) => `- ${note}`),
    '',
  );
  return lines.join('\n');
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
