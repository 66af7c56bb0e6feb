/**
 * `npm run soak`: does the stack hold steady under sustained mixed traffic?
 *
 * One gateway and one worker (started as `npm start` starts them, on a private redis-server unless
 * `--redis-url` names one) take mixed MCP traffic from a few SDK clients for `--minutes`: search,
 * get_document, list_documents, embed_texts, ingest_document (wait: false), get_job and cancel_job,
 * `--rate` calls a second in all (0: as fast as the clients can go, which depends on the machine).
 * Every few seconds the gateway's and the worker's /metrics are scraped (prom-client's default
 * process metrics: resident memory, heap used, active handles, CPU; and LanceDB's cache bytes). The
 * first half is warm-up; over the second half the trend of each process's RSS outside LanceDB's
 * bounded caches must stay flat (see rssSlopeLimit and outsideCachesSeries), no call
 * may fail and neither process may log an error. Writes reports/soak.md and reports/soak.json and
 * exits non-zero when a check fails.
 *
 * `--allocator jemalloc` preloads jemalloc into both processes, to compare with glibc's malloc.
 *
 *   npm run soak -- [--minutes 20] [--rate 30] [--allocator glibc|jemalloc] [--sample-seconds 5] [--concurrency 4] [--out reports] [--redis-url redis://…]
 */
import { cpus, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { writeReportFiles } from '@hopper/harness';
import { buildReport, renderMarkdown, type ProcessName } from './report.ts';
import { startSoakStack } from './stack.ts';
import { Traffic } from './traffic.ts';
import { scrape, type Point, type Sample } from './trend.ts';

/**
 * Calls a second by default, of which a tenth are ingests: what a 2-core machine sustains with room
 * to spare while it also runs the load generator (4 clients go as fast as ~54 calls/s on an idle
 * one, ~33 on a busy one). A fixed rate keeps runs on different machines comparable; a leak shows
 * per call, so a faster `--rate` shows it sooner.
 */
const DEFAULT_RATE = 30;

const { values: options } = parseArgs({
  options: {
    // Twenty: at the default rate RSS is still levelling off at minute 10 (it flattens by ~10-13,
    // and the worker's may step up once around then), so a ten-minute run judges warm-up.
    minutes: { type: 'string', default: '20' },
    'sample-seconds': { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '4' },
    rate: { type: 'string', default: String(DEFAULT_RATE) },
    allocator: { type: 'string', default: 'glibc' },
    out: { type: 'string', default: 'reports' },
    'redis-url': { type: 'string' },
  },
});
const minutes = Number(options.minutes);
const sampleSeconds = Number(options['sample-seconds']);
const concurrency = Number(options.concurrency);
const rate = Number(options.rate);
const allocator = options.allocator;
if (
  !(minutes > 0 && sampleSeconds > 0 && concurrency >= 1 && rate >= 0) ||
  (allocator !== 'jemalloc' && allocator !== 'glibc')
) {
  console.error(
    'usage: npm run soak -- [--minutes N] [--rate CALLS_PER_S] [--allocator glibc|jemalloc] [--sample-seconds S] [--concurrency C] [--out DIR]',
  );
  process.exit(2);
}

const stack = await startSoakStack({
  allocator,
  ...(options['redis-url'] ? { redisUrl: options['redis-url'] } : {}),
});
const redis = new Redis(stack.redisUrl, { lazyConnect: true });
try {
  await redis.connect();
  const traffic = new Traffic(stack.mcpUrl, concurrency, rate);
  console.log(
    `soak: seeding documents, then ${minutes} min of traffic from ${concurrency} clients, ` +
      (rate > 0 ? `${rate} calls/s` : 'as fast as they go') +
      `, processes on ${allocator}`,
  );
  await traffic.seed();

  const samples: Record<ProcessName, Sample[]> = { gateway: [], worker: [] };
  const redisMemory: Point[] = [];
  const startedAt = new Date();
  const t0 = performance.now();
  const minute = () => (performance.now() - t0) / 60_000;
  const sample = async () => {
    const at = minute();
    const [gateway, worker, info] = await Promise.all([
      scrape(stack.gateway.metricsUrl),
      scrape(stack.worker.metricsUrl),
      redis.info('memory'),
    ]);
    samples.gateway.push({ minute: at, values: gateway });
    samples.worker.push({ minute: at, values: worker });
    redisMemory.push({ minute: at, value: Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0) });
  };

  traffic.start();
  await sample();
  let reported = 0;
  while (minute() < minutes) {
    await sleep(Math.min(sampleSeconds * 1000, (minutes - minute()) * 60_000 + 1));
    await sample();
    if (Math.floor(minute()) > reported) {
      reported = Math.floor(minute());
      const rss = (s: Sample[]) => Math.round((s.at(-1)?.values.rssBytes ?? 0) / 2 ** 20);
      console.log(
        `soak: minute ${reported}: ${traffic.calls} calls, gateway ${rss(samples.gateway)} MB, worker ${rss(samples.worker)} MB`,
      );
    }
  }
  await traffic.stop();

  const report = buildReport({
    startedAt,
    minutes,
    sampleSeconds,
    concurrency,
    rate,
    allocator,
    machine: {
      cpus: cpus().length,
      node: process.versions.node,
      loadAverage: Math.round(loadavg()[0]! * 10) / 10,
    },
    stats: traffic.stats,
    errors: traffic.errors,
    samples,
    redisMemory,
    alive: { gateway: stack.gateway.alive(), worker: stack.worker.alive() },
    errorLines: { gateway: stack.gateway.errorLines, worker: stack.worker.errorLines },
  });
  const markdown = renderMarkdown(report);
  await writeReportFiles(options.out, 'soak', markdown, report);
  console.log(markdown);
  process.exitCode = report.passed ? 0 : 1;
} finally {
  redis.disconnect();
  await stack.stop();
}
