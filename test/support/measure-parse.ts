// Measures parse + chunk of each hostile input of issue #20 in its own child process (so one
// input's heap does not colour the next): wall time, chunks, peak RSS and outcome.
//
//   node test/support/measure-parse.ts            # every row, main-thread parse (no sandbox)
//   node test/support/measure-parse.ts --sandbox  # through the worker-thread sandbox
//   ROWS=0,3 node test/support/measure-parse.ts   # only those rows
//
// A main-thread child gets at most --max-old-space-size=2048, and any child 120 s, so a quadratic "before" run cannot
// take the machine down with it.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ParserPool, parseAndChunk } from '@hopper/documents';
import { ISSUE_ROWS } from './hostile-documents.ts';

const self = fileURLToPath(import.meta.url);
const [, , mode, which] = process.argv;

if (mode === '--child') {
  const spec = ISSUE_ROWS[Number(which)];
  if (!spec) throw new Error(`no row ${which}`);
  const row = await spec.make();
  const started = performance.now();
  let outcome: string;
  let chunks = 0;
  try {
    // The worker's defaults (apps/worker/src/config.ts).
    const pool = process.argv.includes('--sandbox')
      ? new ParserPool({ maxHeapMb: 512, timeoutMs: 60_000, threads: 1 })
      : undefined;
    try {
      const result = await parseAndChunk(
        { content: row.content, mediaType: row.mediaType },
        pool ? { sandbox: pool } : {},
      );
      chunks = result.chunks.length;
    } finally {
      await pool?.close();
    }
    outcome = 'completed';
  } catch (error) {
    outcome = `failed: ${error instanceof Error ? error.message : String(error)}`;
  }
  const seconds = (performance.now() - started) / 1000;
  const rssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  console.log(
    JSON.stringify({ input: row.name, bytes: row.content.length, seconds, chunks, rssMb, outcome }),
  );
} else {
  const sandbox = process.argv.includes('--sandbox');
  console.log('| input | size | time | chunks | peak RSS | outcome |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  const only = process.env['ROWS']?.split(',').map(Number);
  for (let i = 0; i < ISSUE_ROWS.length; i++) {
    if (only !== undefined && !only.includes(i)) continue;
    const line = await new Promise<string>((resolve) => {
      const child = spawn(
        process.execPath,
        // Not with --sandbox: a process-wide --max-old-space-size overrides the sandbox thread's own cap.
        [
          ...(sandbox ? [] : ['--max-old-space-size=2048']),
          self,
          '--child',
          String(i),
          ...(sandbox ? ['--sandbox'] : []),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const started = performance.now();
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        try {
          const r = JSON.parse(out.trim().split('\n').at(-1) ?? '') as {
            input: string;
            bytes: number;
            seconds: number;
            chunks: number;
            rssMb: number;
            outcome: string;
          };
          resolve(
            `| ${r.input} | ${(r.bytes / 1024).toFixed(0)} KB | ${r.seconds.toFixed(1)} s | ${r.chunks.toLocaleString('en-US')} | ${r.rssMb} MB | ${r.outcome.slice(0, 160)} |`,
          );
        } catch {
          const why = /heap out of memory/i.test(err)
            ? 'process died: V8 heap out of memory (at the 2 GB cap)'
            : signal
              ? `killed (${signal}${signal === 'SIGKILL' ? ', over 120 s' : ''})`
              : `exit ${code}: ${err.trim().split('\n').at(-1) ?? ''}`;
          resolve(`| ${ISSUE_ROWS[i]?.name ?? i} | | ${seconds} s | | | ${why.slice(0, 160)} |`);
        }
      });
    });
    console.log(line);
  }
}
